package proxy

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// A user's position is a 16-bit fraction of [0,1): the user goes to the
// canary iff position/positions < weight/100. Positions stay with the user,
// so raising the weight from a to b moves exactly the users in [a,b) to the
// canary, and lowering it (or an abort, weight 0) moves them back.
const positions = 1 << 16

// cookieMaxAge keeps a sticky user for a year.
const cookieMaxAge = 365 * 24 * 3600

// limit is the first position that stays on stable at weight w.
func limit(w int32) uint32 {
	w = min(max(w, 0), 100)
	return uint32((uint64(w)*positions + 99) / 100)
}

// sticky keeps each user on one version. A user is named by a header (its
// value hashed to a position) or by the proxy's cookie, which carries the
// position: 4 hex digits, '.', a random id.
type sticky struct {
	lim    uint32
	header string // canonical header name; "" none
	cookie string // cookie name; "" none
	next   selector
	seq    *userSeq
}

func (s sticky) pick(r *http.Request) (bool, string) {
	if s.header != "" {
		if v := r.Header[s.header]; len(v) > 0 && v[0] != "" {
			return hashPosition(v[0]) < s.lim, ""
		}
	}
	if s.cookie == "" {
		return s.next.pick(r)
	}
	if v, ok := cookieValue(r.Header, s.cookie); ok {
		if pos, ok := parsePosition(v); ok {
			return pos < s.lim, ""
		}
	}
	pos := s.seq.next(s.lim)
	return pos < s.lim, newCookie(s.cookie, pos)
}

// userSeq places new cookie users. Their side is chosen like weighted does,
// so new users split exactly by weight; within its side a user takes the
// next point of a van der Corput sequence scaled to the side's interval, so
// the users of each side cover it evenly and a later weight change moves
// the share of them it should.
type userSeq struct {
	n, canary, stable atomic.Uint64
}

func (q *userSeq) next(lim uint32) uint32 {
	if takes(q.n.Add(1)-1, uint64(lim), positions) {
		return vanDerCorput(q.canary.Add(1)-1, lim)
	}
	return lim + vanDerCorput(q.stable.Add(1)-1, positions-lim)
}

// vanDerCorput is the k-th point of the base-2 van der Corput sequence,
// scaled to [0, span).
func vanDerCorput(k uint64, span uint32) uint32 {
	return uint32(uint64(bits.Reverse32(uint32(k))) * uint64(span) >> 32)
}

// hashPosition maps a user id to a position: FNV-1a, then a finalizer so
// that ids differing in one character land far apart.
func hashPosition(id string) uint32 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h >> 48)
}

func newCookie(name string, pos uint32) string {
	c := http.Cookie{
		Name:     name,
		Value:    fmt.Sprintf("%04x.%016x", pos, rand.Uint64()),
		Path:     "/",
		MaxAge:   cookieMaxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}

// parsePosition reads the position of a cookie value "pppp.id".
func parsePosition(v string) (uint32, bool) {
	if len(v) < 6 || v[4] != '.' {
		return 0, false
	}
	p, err := strconv.ParseUint(v[:4], 16, 16)
	if err != nil {
		return 0, false
	}
	return uint32(p), true
}

// cookieValue finds a cookie in the request's Cookie headers without
// allocating (http.Request.Cookie parses them all), since a sticky proxy
// reads one on every request.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(n) != name {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
