package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"net/url"
)

// This file parses HTTP/1.1 for the fast path (fast.go). It accepts only
// the plain, common form of a request; anything else (HTTP/1.0, h2c,
// upgrades, Expect, a chunked body, an unusual target or header syntax) is
// left to net/http, which the connection is handed to before a byte of the
// request is consumed. So net/http stays the judge of every edge case, and
// this parser only has to recognise what it can forward byte for byte.

// maxHead is the largest request head the fast path reads; a larger one
// goes to net/http (which allows up to 1 MiB).
const maxHead = 8 << 10

// reqHead is one parsed request head. Its slices point into the client
// connection's read buffer: valid until the head is discarded.
type reqHead struct {
	raw            []byte // the whole head, final CRLF CRLF included
	method, target []byte
	path           []byte // target up to '?', not yet unescaped
	host           []byte
	contentLength  int64 // 0 when absent
	close          bool  // the client sent Connection: close
	teTrailers     bool  // TE: trailers, which is passed on (gRPC needs it)
	cookie         bool  // a Cookie header is present
	// lines are the header lines forwarded as they are (CRLF included).
	lines [][]byte
}

// hop-by-hop and proxy-set headers, which are never forwarded as received.
type headerClass uint8

const (
	hdrOther headerClass = iota
	hdrDrop              // hop-by-hop, or set by the proxy (X-Forwarded-*)
	hdrHost
	hdrContentLength
	hdrConnection
	hdrTE
	hdrCookie
	hdrUnsupported // the fast path hands the connection to net/http
)

// classify names what a header is to the proxy; name is as received.
func classify(name []byte) headerClass {
	switch len(name) {
	case 2:
		if bytes.EqualFold(name, []byte("TE")) {
			return hdrTE
		}
	case 4:
		if bytes.EqualFold(name, []byte("Host")) {
			return hdrHost
		}
	case 6:
		switch {
		case bytes.EqualFold(name, []byte("Cookie")):
			return hdrCookie
		case bytes.EqualFold(name, []byte("Expect")):
			return hdrUnsupported
		}
	case 7:
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			return hdrUnsupported
		case bytes.EqualFold(name, []byte("Trailer")):
			return hdrDrop
		}
	case 9:
		if bytes.EqualFold(name, []byte("Forwarded")) {
			return hdrDrop
		}
	case 10:
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			return hdrConnection
		case bytes.EqualFold(name, []byte("Keep-Alive")):
			return hdrDrop
		}
	case 14:
		if bytes.EqualFold(name, []byte("Content-Length")) {
			return hdrContentLength
		}
	case 15:
		if bytes.EqualFold(name, []byte("X-Forwarded-For")) {
			return hdrDrop
		}
	case 16:
		if bytes.EqualFold(name, []byte("Proxy-Connection")) || bytes.EqualFold(name, []byte("X-Forwarded-Host")) {
			return hdrDrop
		}
	case 17:
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return hdrUnsupported
		case bytes.EqualFold(name, []byte("X-Forwarded-Proto")):
			return hdrDrop
		}
	case 19:
		if bytes.EqualFold(name, []byte("Proxy-Authorization")) {
			return hdrDrop
		}
	}
	return hdrOther
}

// errNotFast says a request is not for the fast path: net/http takes it.
var errNotFast = errors.New("not a plain HTTP/1.1 request")

// readHead waits for a whole request head in br and parses it, without
// consuming it. errNotFast means the connection goes to net/http as it is;
// another error is the connection's (closed, timed out).
func readHead(br *bufio.Reader, h *reqHead) error {
	for {
		buf, _ := br.Peek(br.Buffered())
		if end := headEnd(buf); end > 0 {
			return parseHead(buf[:end], h)
		} else if end < 0 {
			return errNotFast
		}
		if br.Buffered() >= maxHead || br.Buffered() >= br.Size() {
			return errNotFast
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if br.Buffered() > 0 && errors.Is(err, bufio.ErrBufferFull) {
				return errNotFast
			}
			return err
		}
	}
}

// headEnd is the length of the head in buf (through CRLF CRLF), 0 when it
// is not all there yet, -1 when a bare LF ends a line: net/http accepts
// that leniency; the fast path does not.
func headEnd(buf []byte) int {
	for i := 0; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		j += i
		if j == 0 || buf[j-1] != '\r' {
			return -1
		}
		if j == i+1 && i > 0 { // an empty line: the end of the head
			return j + 1
		}
		i = j + 1
	}
	return 0
}

// parseHead parses a complete head (as found by headEnd).
func parseHead(raw []byte, h *reqHead) error {
	*h = reqHead{raw: raw, lines: h.lines[:0]}
	eol := bytes.IndexByte(raw, '\n')
	line := raw[:eol-1]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errNotFast
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return errNotFast
	}
	sp2 += sp1 + 1
	h.method, h.target = line[:sp1], line[sp1+1:sp2]
	if !isToken(h.method) || string(line[sp2+1:]) != "HTTP/1.1" || !validTarget(h.target) {
		return errNotFast
	}
	h.path = h.target
	if q := bytes.IndexByte(h.target, '?'); q >= 0 {
		h.path = h.target[:q]
	}
	if bytes.IndexByte(h.path, '%') >= 0 {
		if _, err := url.PathUnescape(string(h.path)); err != nil {
			return errNotFast // net/http answers 400
		}
	}
	hosts, lengths := 0, 0
	for rest := raw[eol+1:]; len(rest) > 2; {
		n := bytes.IndexByte(rest, '\n') + 1
		full := rest[:n]
		rest = rest[n:]
		colon := bytes.IndexByte(full, ':')
		if colon <= 0 || !isToken(full[:colon]) {
			return errNotFast // also a folded line (it starts with a space)
		}
		name, value := full[:colon], trimOWS(full[colon+1:n-2])
		if !validValue(value) {
			return errNotFast
		}
		switch classify(name) {
		case hdrUnsupported:
			return errNotFast
		case hdrDrop:
		case hdrHost:
			hosts++
			h.host = value
		case hdrContentLength:
			lengths++
			n, ok := parseLength(value)
			if !ok {
				return errNotFast
			}
			h.contentLength = n
			h.lines = append(h.lines, full)
		case hdrConnection:
			if !h.connection(value) {
				return errNotFast
			}
		case hdrTE:
			h.teTrailers = h.teTrailers || hasToken(value, "trailers")
		case hdrCookie:
			h.cookie = true
			h.lines = append(h.lines, full)
		default:
			h.lines = append(h.lines, full)
		}
	}
	if hosts != 1 || lengths > 1 || !validHost(h.host) {
		return errNotFast
	}
	return nil
}

// connection reads a Connection header: keep-alive and close only (an
// upgrade, or a header named hop-by-hop, is net/http's to handle).
func (h *reqHead) connection(v []byte) bool {
	for len(v) > 0 {
		tok := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = trimOWS(tok)
		switch {
		case len(tok) == 0, bytes.EqualFold(tok, []byte("keep-alive")):
		case bytes.EqualFold(tok, []byte("close")):
			h.close = true
		default:
			return false
		}
	}
	return true
}

// appendRoute appends "METHOD /path" to dst, the path unescaped as
// net/http's URL.Path has it (parseHead checked it unescapes).
func (h *reqHead) appendRoute(dst []byte) []byte {
	dst = append(append(dst, h.method...), ' ')
	if bytes.IndexByte(h.path, '%') < 0 {
		return append(dst, h.path...)
	}
	p, _ := url.PathUnescape(string(h.path))
	return append(dst, p...)
}

// tokenChars are the characters of an RFC 9110 token.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// validTarget accepts the origin form ("/path?query") with no control
// characters, spaces or fragments.
func validTarget(b []byte) bool {
	if len(b) == 0 || b[0] != '/' {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// validHost accepts a non-empty host[:port] of visible ASCII without '/'.
func validHost(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '@' {
			return false
		}
	}
	return true
}

// validValue refuses control characters other than tab (as net/http).
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength parses a Content-Length: decimal digits, below 2^53.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken tells whether a comma-separated list holds tok (any case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		t := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if bytes.EqualFold(trimOWS(t), []byte(tok)) {
			return true
		}
	}
	return false
}
