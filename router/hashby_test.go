package router

import (
	"net/http"
	"testing"
)

func TestHashByKey(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "http://Foo.com:8080/a/b?id=7&x=1", nil)
	r.RequestURI = "/a/./b?id=7&x=1"
	r.Header.Set("X-User", "u1")
	r.AddCookie(&http.Cookie{Name: "s", Value: "c1"})
	h := &HashBy{Parts: []HashPart{{Kind: HashRequestURI}, {Kind: HashText, Name: "|"}, {Kind: HashURI}, {Kind: HashText, Name: "|"},
		{Kind: HashHost}, {Kind: HashText, Name: "|"}, {Kind: HashRemoteAddr}, {Kind: HashText, Name: "|"}, {Kind: HashArgs},
		{Kind: HashText, Name: "|"}, {Kind: HashScheme}, {Kind: HashMethod}, {Kind: HashHeader, Name: "X-User"},
		{Kind: HashCookie, Name: "s"}, {Kind: HashArg, Name: "id"}, {Kind: HashHeader, Name: "X-None"}}}
	want := "/a/./b?id=7&x=1|/a/b|foo.com|10.0.0.1|id=7&x=1|httpGETu1c17"
	if got := h.Key(r, "/a/b", "10.0.0.1"); got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}
