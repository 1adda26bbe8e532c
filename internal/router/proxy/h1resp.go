package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The fast path's side of a replica's response: the head is read into a
// buffer of its own (so that nothing reaches the user before the status is
// known, which a canary failover needs), and the body is copied as it comes,
// its framing kept: Content-Length, chunked (passed through, trailers
// included) or until the replica closes.

// maxRespHead bounds a response head.
const maxRespHead = 1 << 20

// respHead is one parsed response head; reused across responses.
type respHead struct {
	buf     []byte // the head as forwarded: status rest, then kept lines
	status  int
	reason  int   // offset in buf where the lines after the status line start
	length  int64 // Content-Length; -1 when absent
	chunked bool
	close   bool // the replica closes the connection after this response
}

// errUpstreamProtocol is a response the fast path cannot read.
var errUpstreamProtocol = errors.New("malformed response from the replica")

// readResp reads a final response head from br, skipping 1xx informational
// responses. read is false when not a byte of a response came.
func readResp(br *bufio.Reader, r *respHead) (read bool, err error) {
	for {
		*r = respHead{buf: r.buf[:0], length: -1}
		line, err := readLine(br, r)
		if err != nil {
			return len(r.buf) > 0, err
		}
		read = true
		http10, ok := statusLine(line, r)
		if !ok {
			return true, fmt.Errorf("%w: status line %q", errUpstreamProtocol, clip(line))
		}
		r.close = http10
		r.buf = append(r.buf[:0], line[len("HTTP/1.1 "):]...)
		r.buf = append(r.buf, "\r\n"...)
		r.reason = len(r.buf)
		if err := r.readHeaders(br, http10); err != nil {
			return true, err
		}
		if r.status >= 200 || r.status == 101 {
			if r.status == 101 {
				return true, fmt.Errorf("%w: 101 Switching Protocols without an upgrade", errUpstreamProtocol)
			}
			return true, nil
		}
		// 100 Continue (never asked for) or 103 Early Hints: not forwarded.
	}
}

// readLine reads one line into r.buf (at its end) and returns it without
// its line ending; r.buf grows.
func readLine(br *bufio.Reader, r *respHead) ([]byte, error) {
	start := len(r.buf)
	for {
		s, err := br.ReadSlice('\n')
		r.buf = append(r.buf, s...)
		if len(r.buf) > maxRespHead {
			return nil, fmt.Errorf("%w: head larger than %d bytes", errUpstreamProtocol, maxRespHead)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(r.buf) > start {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line := r.buf[start : len(r.buf)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		r.buf = r.buf[:start+len(line)] // the line ending is re-added as CRLF
		return line, nil
	}
}

// statusLine parses "HTTP/1.x SSS reason".
func statusLine(line []byte, r *respHead) (http10 bool, ok bool) {
	if len(line) < len("HTTP/1.1 200") || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return false, false
	}
	switch line[7] {
	case '0':
		http10 = true
	case '1':
	default:
		return false, false
	}
	c := line[9:12]
	if c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return false, false
	}
	if len(line) > 12 && line[12] != ' ' {
		return false, false
	}
	r.status = int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
	return http10, true
}

// readHeaders reads the header lines, keeping in r.buf those forwarded.
func (r *respHead) readHeaders(br *bufio.Reader, http10 bool) error {
	keepAlive := false
	for {
		start := len(r.buf)
		line, err := readLine(br, r)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			r.buf = r.buf[:start]
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return fmt.Errorf("%w: header line %q", errUpstreamProtocol, clip(line))
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		keep := true
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseLength(value)
			if !ok || (r.length >= 0 && r.length != n) {
				return fmt.Errorf("%w: Content-Length %q", errUpstreamProtocol, clip(value))
			}
			if r.length >= 0 {
				keep = false // a repeated equal value
			}
			r.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return fmt.Errorf("%w: Transfer-Encoding %q", errUpstreamProtocol, clip(value))
			}
			r.chunked, keep = true, false
		case bytes.EqualFold(name, []byte("Connection")):
			if hasToken(value, "close") {
				r.close = true
			}
			keepAlive = keepAlive || hasToken(value, "keep-alive")
			keep = false
		case bytes.EqualFold(name, []byte("Keep-Alive")), bytes.EqualFold(name, []byte("Proxy-Connection")),
			bytes.EqualFold(name, []byte("Upgrade")), bytes.EqualFold(name, []byte("TE")),
			bytes.EqualFold(name, []byte("Proxy-Authenticate")):
			keep = false
		}
		if keep {
			r.buf = append(r.buf, "\r\n"...)
		} else {
			r.buf = r.buf[:start]
		}
	}
	if http10 && keepAlive && !r.chunked {
		r.close = false
	}
	if r.chunked {
		r.length = -1 // chunked wins over a Content-Length, which is dropped
		r.buf = dropLength(r.buf, r.reason)
	}
	return nil
}

// dropLength removes a Content-Length line from the kept lines.
func dropLength(buf []byte, from int) []byte {
	for i := from; i < len(buf); {
		j := bytes.Index(buf[i:], []byte("\r\n")) + i + 2
		if colon := bytes.IndexByte(buf[i:j], ':'); colon > 0 && bytes.EqualFold(buf[i:i+colon], []byte("Content-Length")) {
			return append(buf[:i], buf[j:]...)
		}
		i = j
	}
	return buf
}

// bodyless tells whether a response to method has no body whatever its
// headers say.
func bodyless(status int, head bool) bool {
	return head || status == 204 || status == 304 || status < 200
}

// copyErr says which side of a copy failed.
type copyErr struct {
	err      error
	upstream bool // reading the replica failed; else writing to the user
}

// copyN copies n bytes from src to dst. Before it would wait for the
// replica it flushes what the user has not been sent yet, so that a
// streamed response streams.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) *copyErr {
	for n > 0 {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return &copyErr{err: err}
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return &copyErr{err: err, upstream: true}
			}
		}
		b, _ := src.Peek(int(min(n, int64(src.Buffered()))))
		if _, err := dst.Write(b); err != nil {
			return &copyErr{err: err}
		}
		src.Discard(len(b))
		n -= int64(len(b))
	}
	return nil
}

// copyChunked passes a chunked body through as it is, to its last chunk and
// trailers.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, scratch *respHead) *copyErr {
	for {
		scratch.buf = scratch.buf[:0]
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return &copyErr{err: err}
			}
		}
		line, err := readLine(src, scratch)
		if err != nil {
			return &copyErr{err: err, upstream: true}
		}
		size, ok := chunkSize(line)
		if !ok {
			return &copyErr{err: fmt.Errorf("%w: chunk size %q", errUpstreamProtocol, clip(line)), upstream: true}
		}
		if _, err := dst.Write(append(line, "\r\n"...)); err != nil {
			return &copyErr{err: err}
		}
		if size == 0 {
			return copyTrailers(dst, src, scratch)
		}
		if ce := copyN(dst, src, size+2); ce != nil { // the data and its CRLF
			return ce
		}
	}
}

func copyTrailers(dst *bufio.Writer, src *bufio.Reader, scratch *respHead) *copyErr {
	for {
		scratch.buf = scratch.buf[:0]
		line, err := readLine(src, scratch)
		if err != nil {
			return &copyErr{err: err, upstream: true}
		}
		if _, err := dst.Write(append(line, "\r\n"...)); err != nil {
			return &copyErr{err: err}
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// chunkSize parses a chunk-size line (extensions ignored).
func chunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// copyToEOF copies a body delimited by the replica closing the connection.
func copyToEOF(dst *bufio.Writer, src *bufio.Reader) *copyErr {
	for {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return &copyErr{err: err}
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					return nil
				}
				return &copyErr{err: err, upstream: true}
			}
		}
		b, _ := src.Peek(src.Buffered())
		if _, err := dst.Write(b); err != nil {
			return &copyErr{err: err}
		}
		src.Discard(len(b))
	}
}

// clip shortens what an error message quotes.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
