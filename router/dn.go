package router

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// dnShortNames are OpenSSL's short names of the attribute types that
// appear in certificate names.
var dnShortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title", "2.5.4.17": "postalCode",
	"2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier", "2.5.4.46": "dnQualifier",
	"2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}

// FormatDN writes a DER-encoded X.509 name as nginx's $ssl_client_s_dn
// and $ssl_client_i_dn do (OpenSSL X509_NAME_print_ex with
// XN_FLAG_RFC2253): the RDNs last to first, separated by ",", the
// attributes of one RDN by "+", OpenSSL's short names, RFC 2253 escapes,
// bytes above 0x7F as \XX, and values that are not strings (or types
// without a short name) as "#" and the hex of their DER encoding. A name
// that does not parse gives "".
func FormatDN(raw []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return ""
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i < len(seq)-1 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			oid := atv.Type.String()
			name, known := dnShortNames[oid]
			if !known {
				name = oid
			}
			b.WriteString(name)
			b.WriteByte('=')
			if s, ok := atv.Value.(string); ok && known {
				escapeDNValue(&b, s)
				continue
			}
			der, err := asn1.Marshal(atv.Value)
			if err != nil {
				return ""
			}
			b.WriteByte('#')
			b.WriteString(strings.ToUpper(hex.EncodeToString(der)))
		}
	}
	return b.String()
}

// escapeDNValue writes s with RFC 2253's escapes, as OpenSSL's
// ASN1_STRFLGS_RFC2253 does.
func escapeDNValue(b *strings.Builder, s string) {
	const hexDigits = "0123456789ABCDEF"
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80 || c < 0x20 || c == 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		case strings.IndexByte(",+\"\\<>;", c) >= 0,
			c == '#' && i == 0,
			c == ' ' && (i == 0 || i == len(s)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}
