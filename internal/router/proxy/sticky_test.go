package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// user is a cookie-sticky client: it keeps the cookie the proxy sets.
type user struct{ cookie string }

func (u *user) visit(t *testing.T, sel selector) bool {
	t.Helper()
	r, _ := http.NewRequest("GET", "http://x/", nil)
	if u.cookie != "" {
		r.Header.Set("Cookie", "other=1; fledge="+u.cookie)
	}
	canary, set := sel.pick(r)
	if set != "" {
		c, err := http.ParseSetCookie(set)
		if err != nil {
			t.Fatalf("bad Set-Cookie %q: %v", set, err)
		}
		if c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge < 86400*30 {
			t.Fatalf("cookie attributes %q: want Path=/, HttpOnly, SameSite=Lax, a long Max-Age", set)
		}
		if u.cookie != "" && validPosition(u.cookie) {
			t.Fatalf("a user with a valid cookie got a new one: %q", set)
		}
		u.cookie = c.Value
	}
	return canary
}

func validPosition(v string) bool { _, ok := parsePosition(v); return ok }

func cookieSelector(w int32, seq *userSeq) selector {
	return sticky{lim: limit(w), cookie: "fledge", next: byWeight(w, new(atomic.Uint64)), seq: seq}
}

func TestStickyCookieAssignmentIsStable(t *testing.T) {
	seq := &userSeq{}
	sel := cookieSelector(30, seq)
	users := make([]user, 200)
	first := make([]bool, len(users))
	for i := range users {
		first[i] = users[i].visit(t, sel)
	}
	for round := range 5 {
		for i := range users {
			if got := users[i].visit(t, sel); got != first[i] {
				t.Fatalf("round %d: user %d moved from canary=%v to %v at a constant weight", round, i, first[i], got)
			}
		}
	}
}

func TestStickyNewUsersSplitExactly(t *testing.T) {
	for _, w := range []int32{1, 5, 10, 33, 50, 90} {
		seq := &userSeq{}
		sel := cookieSelector(w, seq)
		canary := 0
		for range 1000 {
			u := user{}
			if u.visit(t, sel) {
				canary++
			}
		}
		// The share of positions below the limit is w/100 up to 1/65536.
		if want := 1000 * int(w) / 100; canary < want || canary > want+1 {
			t.Errorf("w=%d: %d of 1000 new users on the canary, want %d", w, canary, want)
		}
	}
}

func TestStickyWeightChangeMovesOnlyTheNeededShare(t *testing.T) {
	seq := &userSeq{}
	users := make([]user, 1000)
	at := func(w int32) []bool {
		sel := cookieSelector(w, seq)
		out := make([]bool, len(users))
		for i := range users {
			out[i] = users[i].visit(t, sel)
		}
		return out
	}
	count := func(xs []bool) (n int) {
		for _, x := range xs {
			if x {
				n++
			}
		}
		return n
	}
	w10 := at(10)
	if n := count(w10); n != 100 {
		t.Fatalf("at 10%%: %d canary users, want 100", n)
	}
	w30 := at(30)
	for i := range users {
		if w10[i] && !w30[i] {
			t.Fatalf("user %d left the canary when the weight rose", i)
		}
	}
	// The moved users are spread evenly over the stable side: within a few
	// users of the 200 needed (van der Corput discrepancy).
	if n := count(w30); n < 295 || n > 305 {
		t.Errorf("at 30%%: %d canary users, want 300±5", n)
	}
	back := at(10)
	for i := range users {
		if back[i] != w10[i] {
			t.Fatalf("user %d: canary=%v at 10%% after 30%%, was %v at 10%% before", i, back[i], w10[i])
		}
	}
	for i, c := range at(0) {
		if c {
			t.Fatalf("user %d still on the canary after an abort (weight 0)", i)
		}
	}
	for i, c := range at(100) {
		if !c {
			t.Fatalf("user %d not on the canary at 100%%", i)
		}
	}
}

func TestStickyHeaderUsers(t *testing.T) {
	sel := sticky{lim: limit(20), header: "X-User-Id", next: fixed(false), seq: &userSeq{}}
	canary := 0
	for i := range 10000 {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.Header.Set("X-User-ID", fmt.Sprintf("user-%d", i))
		c, cookie := sel.pick(r)
		if cookie != "" {
			t.Fatal("header stickiness set a cookie")
		}
		if again, _ := sel.pick(r); again != c {
			t.Fatalf("user-%d moved between two requests", i)
		}
		if c {
			canary++
		}
	}
	// Hashes are not a sequence: the share is statistical (±4σ).
	if canary < 1840 || canary > 2160 {
		t.Errorf("%d of 10000 header users on the canary at 20%%, want about 2000", canary)
	}
	// Without the header, the weight decides.
	r, _ := http.NewRequest("GET", "http://x/", nil)
	if c, _ := sel.pick(r); c {
		t.Error("a request without a user id went to the canary through fixed(false)")
	}
}

func TestCookieValue(t *testing.T) {
	tests := map[string]struct {
		headers []string
		want    string
		ok      bool
	}{
		"one":        {headers: []string{"fledge=abcd.1"}, want: "abcd.1", ok: true},
		"among many": {headers: []string{"a=1; fledge=x ; b=2"}, want: "x", ok: true},
		"quoted":     {headers: []string{`fledge="q"`}, want: "q", ok: true},
		"second hdr": {headers: []string{"a=1", "fledge=y"}, want: "y", ok: true},
		"prefix":     {headers: []string{"fledgex=1; xfledge=2"}},
		"none":       {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := cookieValue(http.Header{"Cookie": tc.headers}, "fledge")
			if got != tc.want || ok != tc.ok {
				t.Errorf("cookieValue = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParsePosition(t *testing.T) {
	for v, want := range map[string]bool{"00ff.abc": true, "ffff.1": true, "0fff": false, "zzzz.1": false, "00ff.": false, "": false} {
		if _, ok := parsePosition(v); ok != want {
			t.Errorf("parsePosition(%q) ok = %v, want %v", v, ok, want)
		}
	}
	if c := newCookie("fledge", 0x1234); !strings.HasPrefix(c, "fledge=1234.") {
		t.Errorf("newCookie = %q, want the position in 4 hex digits first", c)
	}
}
