package controller

import (
	"slices"
	"strings"
)

// CheckStatus is what Portico does with one annotation.
type CheckStatus uint8

const (
	// Honoured: Portico reads the annotation and applies it.
	Honoured CheckStatus = iota
	// Ignored: Portico does not read it (unsupported or unknown), or a
	// portico.dev/ annotation of the same name overrides it.
	Ignored
	// Invalid: Portico reads it but the value is refused; the setting keeps
	// its default (or, for authentication and access lists, the paths fail
	// closed).
	Invalid
)

func (s CheckStatus) String() string {
	switch s {
	case Honoured:
		return "honoured"
	case Ignored:
		return "ignored"
	default:
		return "invalid"
	}
}

// AnnotationCheck is what Portico does with one annotation of an Ingress.
type AnnotationCheck struct {
	Key    string // the annotation's full name
	Status CheckStatus
	// Note says why an annotation is ignored or invalid, or, for one
	// honoured with a difference from ingress-nginx, what differs.
	Note string
}

// CheckAnnotations reports, for each portico.dev/ and
// nginx.ingress.kubernetes.io/ annotation in ann, what Portico does with it,
// sorted by key. It parses exactly as the controller does; what it cannot
// see are references checked when the Ingress is compiled (Secrets,
// Services, ConfigMaps), which the controller reports as Events.
func CheckAnnotations(ann map[string]string) []AnnotationCheck {
	_, probs := parseAnnotations(ann)
	byKey := make(map[string]annotationProblem, len(probs))
	for _, p := range probs {
		if _, seen := byKey[p.key]; !seen {
			byKey[p.key] = p
		}
	}
	var out []AnnotationCheck
	for key := range ann {
		name, nginx, ours := annotationName(key)
		if !ours {
			continue
		}
		c := AnnotationCheck{Key: key}
		if p, ok := byKey[key]; ok {
			switch {
			case p.reason == "UnsupportedAnnotation":
				c.Status, c.Note = Ignored, NginxAnnotation(name).Note
			case annotationIndex[name] == nil:
				c.Status, c.Note = Ignored, "Portico defines no such annotation"
			default:
				c.Status, c.Note = Invalid, p.msg
			}
		} else if _, both := ann[porticoPrefix+name]; nginx && both {
			c.Status, c.Note = Ignored, "overridden by "+porticoPrefix+name
		} else if nginx {
			c.Note = nginxDiffers[name]
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b AnnotationCheck) int { return strings.Compare(a.Key, b.Key) })
	return out
}
