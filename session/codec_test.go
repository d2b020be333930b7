package session

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// randomState returns a state with random contents: arbitrary bytes in the
// strings (not only UTF-8), empty and nil collections, zero and non-zero
// times.
func randomState(rng *rand.Rand) *State {
	str := func() string {
		n := rng.IntN(40)
		if rng.IntN(10) == 0 {
			n = rng.IntN(3000)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	tm := func() time.Time {
		if rng.IntN(4) == 0 {
			return time.Time{}
		}
		return time.Unix(rng.Int64N(maxUnix)+1, 0).UTC()
	}
	s := &State{
		Provider: str(), UserID: str(), User: str(), Email: str(), Name: str(),
		GivenName: str(), FamilyName: str(), Username: str(),
		AccessToken: str(), RefreshToken: str(), IDToken: str(),
		Expiry: tm(), CreatedAt: tm(),
		ID: str(), SID: str(), Subject: str(), LastUsed: tm(),
	}
	if n := rng.IntN(6); n > 0 {
		s.Groups = make([]string, n)
		for i := range s.Groups {
			s.Groups[i] = str()
		}
	}
	if n := rng.IntN(6); n > 0 {
		s.Attributes = make(map[string]string, n)
		for range n {
			s.Attributes[str()] = str()
		}
	}
	return s
}

func TestStateRoundTripProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		s := randomState(rng)
		b := appendState(nil, s)
		got, err := decodeState(b)
		if err != nil {
			t.Fatalf("#%d: decodeState(appendState(%+v)) error = %v", i, s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("#%d: decodeState(appendState(s)) = %+v; want %+v", i, got, s)
		}
		if again := appendState(nil, got); !bytes.Equal(again, b) {
			t.Fatalf("#%d: encoding is not stable", i)
		}
	}
}

func TestFlowsRoundTripProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		fs := make([]Flow, rng.IntN(maxFlows+1))
		for j := range fs {
			s := randomState(rng)
			fs[j] = Flow{State: s.Provider, Verifier: s.UserID, Nonce: s.User, Provider: s.Email, Redirect: s.Name, CreatedAt: s.CreatedAt, FormPost: rng.IntN(2) == 1}
		}
		got, err := decodeFlows(appendFlows(nil, fs))
		if err != nil || !reflect.DeepEqual(got, fs) {
			t.Fatalf("#%d: decodeFlows(appendFlows(%+v)) = %+v, %v", i, fs, got, err)
		}
	}
}

func TestEncodeStateDeterministic(t *testing.T) {
	t.Parallel()
	s := sampleState(t0, 100)
	for i := range 30 {
		s.Attributes[string(rune('a'+i))] = "v"
	}
	first := appendState(nil, s)
	for range 50 {
		if got := appendState(nil, s); !bytes.Equal(got, first) {
			t.Fatalf("appendState() = %x; want %x (same state, same bytes)", got, first)
		}
	}
}

func TestEncodeStateSize(t *testing.T) {
	t.Parallel()
	s := sampleState(t0, 1000)
	var text int
	for _, v := range []string{s.Provider, s.UserID, s.User, s.Email, s.Name, s.GivenName, s.FamilyName, s.Username, s.AccessToken, s.RefreshToken, s.IDToken} {
		text += len(v)
	}
	for _, g := range s.Groups {
		text += len(g)
	}
	for k, v := range s.Attributes {
		text += len(k) + len(v)
	}
	// Framing: a version byte, a length or count byte a field, ~5 bytes a time.
	if got, limit := len(appendState(nil, s)), text+50; got > limit {
		t.Errorf("len(appendState()) = %d; want at most %d (%d bytes of text)", got, limit, text)
	}
}

func TestDecodeStateRejects(t *testing.T) {
	t.Parallel()
	valid := appendState(nil, sampleState(t0, 50))
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "empty", in: nil},
		{name: "version only", in: []byte{stateVersion}},
		{name: "unknown version", in: append([]byte{stateVersion + 1}, valid[1:]...)},
		{name: "trailing byte", in: append(append([]byte{}, valid...), 0)},
		{name: "string longer than input", in: []byte{stateVersion, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}},
		{name: "length overflows", in: []byte{stateVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{name: "varint too long", in: []byte{stateVersion, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{name: "group count beyond input", in: []byte{stateVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x03, 0}},
		{name: "attribute count beyond input", in: []byte{stateVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0}},
		{name: "time out of range", in: []byte{stateVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}},
	}
	for i := range len(valid) {
		tests = append(tests, struct {
			name string
			in   []byte
		}{name: "truncated", in: valid[:i]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s, err := decodeState(tt.in); err == nil {
				t.Errorf("decodeState(%x) = %+v; want an error", tt.in, s)
			}
		})
	}
}

// TestDecodeFlowsOlderVersions reads CSRF cookies set before FormPost
// (version 1) and before Mode (version 2) were kept, as browsers hold them
// across an upgrade: their flows are not form_post ones and have no mode.
func TestDecodeFlowsOlderVersions(t *testing.T) {
	t.Parallel()
	f := *sampleFlow("st", t0)
	f.FormPost, f.Mode = false, ""
	v3 := appendFlows(nil, []Flow{f})           // …, FormPost byte 0, Mode's length 0
	v2 := append([]byte{2}, v3[1:len(v3)-1]...) // without Mode
	v1 := append([]byte{1}, v3[1:len(v3)-2]...) // without FormPost either
	for name, in := range map[string][]byte{"version 1": v1, "version 2": v2} {
		got, err := decodeFlows(in)
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], f) {
			t.Errorf("decodeFlows(%s) = %+v, %v; want [%+v]", name, got, err, f)
		}
	}
}

// formPostIs returns the encoding of one sampleFlow, valid, with its
// FormPost byte (before Mode, the last string) set to b.
func formPostIs(valid []byte, b byte) []byte {
	out := append([]byte{}, valid...)
	out[len(out)-2-len(sampleFlow("st", t0).Mode)] = b
	return out
}

func TestDecodeFlowsRejects(t *testing.T) {
	t.Parallel()
	six := appendFlows(nil, make([]Flow, maxFlows+1))
	valid := appendFlows(nil, []Flow{*sampleFlow("st", t0)})
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "empty", in: nil},
		{name: "unknown version", in: []byte{flowsVersion + 1, 0}},
		{name: "version 0", in: []byte{0, 0}},
		{name: "FormPost neither 0 nor 1", in: formPostIs(valid, 2)},
		{name: "more than five flows", in: six},
		{name: "count beyond input", in: []byte{flowsVersion, 3, 0, 0, 0, 0, 0, 0}},
		{name: "trailing byte", in: append(append([]byte{}, valid...), 0)},
		{name: "truncated", in: valid[:len(valid)-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if fs, err := decodeFlows(tt.in); err == nil {
				t.Errorf("decodeFlows(%x) = %+v; want an error", tt.in, fs)
			}
		})
	}
}

// FuzzDecodeState checks that the state decoder never panics, and that what
// it accepts encodes back to a value that decodes to the same state.
func FuzzDecodeState(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		f.Add(appendState(nil, randomState(rng)))
	}
	f.Add(appendState(nil, sampleState(t0, 100)))
	f.Add(appendState(nil, &State{}))
	f.Add([]byte{stateVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := decodeState(in)
		if err != nil {
			if s != nil {
				t.Fatalf("decodeState() = %+v, %v; want nil with the error", s, err)
			}
			return
		}
		again, err := decodeState(appendState(nil, s))
		if err != nil {
			t.Fatalf("decodeState(appendState(decodeState(in))) error = %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("re-decoded state = %+v; want %+v", again, s)
		}
	})
}

// FuzzDecodeFlows checks that the flow list decoder never panics and keeps
// its bound.
func FuzzDecodeFlows(f *testing.F) {
	f.Add(appendFlows(nil, []Flow{*sampleFlow("a", t0), *sampleFlow("b", t0)}))
	f.Add(appendFlows(nil, nil))
	f.Add([]byte{flowsVersion, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		fs, err := decodeFlows(in)
		if err != nil {
			return
		}
		if len(fs) > maxFlows {
			t.Fatalf("decodeFlows() returned %d flows; want at most %d", len(fs), maxFlows)
		}
		again, err := decodeFlows(appendFlows(nil, fs))
		if err != nil || !reflect.DeepEqual(again, fs) {
			t.Fatalf("re-decoded flows = %+v, %v; want %+v", again, err, fs)
		}
	})
}

// TestDecodeStateVersion1 reads the encodings of older versions (1: before
// LocalID, 2: before Binding, 3: before ID, SID, Subject and LastUsed),
// which decode with those fields empty; versions 1 and 2 with an empty
// binding, which a store with bindings then refuses (see the store suite).
func TestDecodeStateVersion1(t *testing.T) {
	t.Parallel()
	s := &State{Provider: "p", UserID: "1", User: "u", CreatedAt: time.Unix(1_900_000_000, 0).UTC(), LocalID: 42}
	v4 := appendBoundState(nil, s, "fp")
	// Version 3 is version 4 without the trailing ID, SID, Subject (empty:
	// a length byte each) and LastUsed (zero: one byte).
	v3 := append([]byte{3}, v4[1:len(v4)-4]...)
	s.ID, s.SID, s.Subject, s.LastUsed = "id1", "sid1", "sub1", time.Unix(1_900_000_060, 0).UTC()
	got, binding, err := decodeBoundState(appendBoundState(nil, s, "fp"))
	if err != nil || got.ID != "id1" || got.SID != "sid1" || got.Subject != "sub1" || !got.LastUsed.Equal(s.LastUsed) || binding != "fp" {
		t.Fatalf("decodeBoundState(version 4) = %+v, %q, %v; want ID, SID, Subject, LastUsed and binding fp", got, binding, err)
	}
	// Version 2 is version 3 without the trailing binding (a length byte and
	// "fp"); version 1 is version 2 without LocalID (one byte for 42).
	v2 := append([]byte{2}, v3[1:len(v3)-3]...)
	v1 := append([]byte{1}, v2[1:len(v2)-1]...)
	got, binding, err = decodeBoundState(v1)
	if err != nil || got.User != "u" || got.LocalID != 0 || binding != "" {
		t.Fatalf("decodeBoundState(version 1) = %+v, %q, %v; want the state without LocalID or binding", got, binding, err)
	}
	got, binding, err = decodeBoundState(v2)
	if err != nil || got.LocalID != 42 || binding != "" {
		t.Fatalf("decodeBoundState(version 2) = %+v, %q, %v; want LocalID 42 and no binding", got, binding, err)
	}
	got, binding, err = decodeBoundState(v3)
	if err != nil || got.LocalID != 42 || binding != "fp" || got.ID != "" || got.SID != "" || !got.LastUsed.IsZero() {
		t.Fatalf("decodeBoundState(version 3) = %+v, %q, %v; want LocalID 42, binding fp and no ID, SID or LastUsed", got, binding, err)
	}
}
