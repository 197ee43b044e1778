package h1

import "golang.org/x/net/http/httpguts"

// The checks net/http's server applies to what its parser accepted.
var (
	validFieldName  = httpguts.ValidHeaderFieldName
	validFieldValue = httpguts.ValidHeaderFieldValue
	validHost       = httpguts.ValidHostHeader
)
