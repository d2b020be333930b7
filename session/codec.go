package session

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"
)

// The wire formats below are what the cookies carry once securecookie has
// checked and decrypted them. They are compact (no field names, varint
// lengths, unix seconds) because every byte travels on every request, and
// deterministic (attributes in sorted key order) so equal states encode
// equally.
//
// State, version 4 (version 3 is the same without ID, SID, Subject and
// LastUsed, version 2 without Binding either, version 1 without LocalID
// either; all are still read, with the fields they lack empty):
//
//	version byte (4)
//	Provider, UserID, User, Email, Name, GivenName, FamilyName, Username: strings
//	Groups: uvarint count, then that many strings
//	Attributes: uvarint count, then key and value strings in sorted key order
//	AccessToken, RefreshToken, IDToken: strings
//	Expiry, CreatedAt: times
//	LocalID: uvarint
//	Binding: string (see Options.Bindings; empty when sessions are not bound)
//	ID, SID, Subject: strings
//	LastUsed: time
//
// Flow list, version 3 (version 2 is the same without Mode, version 1
// without FormPost either; CSRF cookies set before may still hold them,
// and they are read with an empty mode and no FormPost):
//
//	version byte (3)
//	uvarint count (at most maxFlows), then for each flow:
//	State, Verifier, Nonce, Provider, Redirect: strings
//	CreatedAt: time
//	FormPost: one byte, 0 or 1
//	Mode: string
//
// A string is a uvarint byte length and the bytes. A time is a varint of
// its unix seconds, with 0 standing for the zero time.Time; sub-second parts
// are dropped.

const (
	stateVersion = 4
	flowsVersion = 3

	// Unix seconds of the first instant of year 1 and the last of year 9999:
	// the times a decoder accepts.
	minUnix = -62135596800
	maxUnix = 253402300799
)

// errMalformed reports an encoded state or flow list that does not parse.
var errMalformed = errors.New("session: malformed encoding")

// appendState appends the encoding of s, with no binding, to b.
func appendState(b []byte, s *State) []byte { return appendBoundState(b, s, "") }

// appendBoundState appends the encoding of s sealed with binding to b.
func appendBoundState(b []byte, s *State, binding string) []byte {
	n := 1 + len(binding) + len(s.Provider) + len(s.UserID) + len(s.User) + len(s.Email) +
		len(s.Name) + len(s.GivenName) + len(s.FamilyName) + len(s.Username) +
		len(s.AccessToken) + len(s.RefreshToken) + len(s.IDToken) +
		len(s.ID) + len(s.SID) + len(s.Subject) +
		(19+len(s.Groups)+2*len(s.Attributes))*binary.MaxVarintLen64
	for _, g := range s.Groups {
		n += len(g)
	}
	for k, v := range s.Attributes {
		n += len(k) + len(v)
	}
	b = slices.Grow(b, n)

	b = append(b, stateVersion)
	b = appendString(b, s.Provider)
	b = appendString(b, s.UserID)
	b = appendString(b, s.User)
	b = appendString(b, s.Email)
	b = appendString(b, s.Name)
	b = appendString(b, s.GivenName)
	b = appendString(b, s.FamilyName)
	b = appendString(b, s.Username)
	b = binary.AppendUvarint(b, uint64(len(s.Groups)))
	for _, g := range s.Groups {
		b = appendString(b, g)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Attributes)))
	for _, k := range slices.Sorted(maps.Keys(s.Attributes)) {
		b = appendString(b, k)
		b = appendString(b, s.Attributes[k])
	}
	b = appendString(b, s.AccessToken)
	b = appendString(b, s.RefreshToken)
	b = appendString(b, s.IDToken)
	b = appendTime(b, s.Expiry)
	b = appendTime(b, s.CreatedAt)
	b = binary.AppendUvarint(b, uint64(s.LocalID))
	b = appendString(b, binding)
	b = appendString(b, s.ID)
	b = appendString(b, s.SID)
	b = appendString(b, s.Subject)
	b = appendTime(b, s.LastUsed)
	return b
}

// decodeState parses an encoding made by appendState, whatever its
// binding.
func decodeState(b []byte) (*State, error) {
	s, _, err := decodeBoundState(b)
	return s, err
}

// decodeBoundState parses an encoding made by appendBoundState and returns
// the state with the binding it was sealed with ("" for versions 1 and
// 2). It never panics and allocates no more than a small multiple of
// len(b).
func decodeBoundState(b []byte) (*State, string, error) {
	if len(b) == 0 || b[0] < 1 || b[0] > stateVersion {
		return nil, "", errMalformed
	}
	d := decoder{b: b, s: string(b), off: 1}
	s := &State{
		Provider:   d.string(),
		UserID:     d.string(),
		User:       d.string(),
		Email:      d.string(),
		Name:       d.string(),
		GivenName:  d.string(),
		FamilyName: d.string(),
		Username:   d.string(),
	}
	if n := d.count(1); n > 0 {
		s.Groups = make([]string, n)
		for i := range s.Groups {
			s.Groups[i] = d.string()
		}
	}
	if n := d.count(2); n > 0 {
		s.Attributes = make(map[string]string, n)
		for range n {
			k := d.string()
			s.Attributes[k] = d.string()
		}
	}
	s.AccessToken = d.string()
	s.RefreshToken = d.string()
	s.IDToken = d.string()
	s.Expiry = d.time()
	s.CreatedAt = d.time()
	if b[0] >= 2 {
		id := d.uvarint()
		if id > 1<<62 {
			return nil, "", errMalformed
		}
		s.LocalID = int64(id)
	}
	var binding string
	if b[0] >= 3 {
		binding = d.string()
	}
	if b[0] >= 4 {
		s.ID = d.string()
		s.SID = d.string()
		s.Subject = d.string()
		s.LastUsed = d.time()
	}
	if err := d.end(); err != nil {
		return nil, "", err
	}
	return s, binding, nil
}

// appendFlows appends the encoding of fs to b.
func appendFlows(b []byte, fs []Flow) []byte {
	b = append(b, flowsVersion)
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for i := range fs {
		f := &fs[i]
		b = appendString(b, f.State)
		b = appendString(b, f.Verifier)
		b = appendString(b, f.Nonce)
		b = appendString(b, f.Provider)
		b = appendString(b, f.Redirect)
		b = appendTime(b, f.CreatedAt)
		b = appendBool(b, f.FormPost)
		b = appendString(b, f.Mode)
	}
	return b
}

// decodeFlows parses an encoding made by appendFlows. It never panics and
// refuses lists longer than maxFlows.
func decodeFlows(b []byte) ([]Flow, error) {
	if len(b) == 0 || b[0] < 1 || b[0] > flowsVersion {
		return nil, errMalformed
	}
	version := b[0]
	d := decoder{b: b, s: string(b), off: 1}
	n := d.count(6) // five strings and a time: at least six bytes a flow
	if n > maxFlows {
		return nil, errMalformed
	}
	fs := make([]Flow, n)
	for i := range fs {
		fs[i] = Flow{
			State:     d.string(),
			Verifier:  d.string(),
			Nonce:     d.string(),
			Provider:  d.string(),
			Redirect:  d.string(),
			CreatedAt: d.time(),
		}
		if version >= 2 {
			fs[i].FormPost = d.bool()
		}
		if version >= 3 {
			fs[i].Mode = d.string()
		}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return fs, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.Unix())
}

// A decoder reads the primitives of the formats above. The first error
// sticks: later reads return zero values, and end reports it.
type decoder struct {
	b   []byte
	s   string // the same bytes as b: decoded strings share this one allocation
	off int
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)-d.off) {
		d.err = errMalformed
		return ""
	}
	s := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

// count reads an element count, refusing one that the remaining input
// cannot hold when each element takes at least size bytes; this bounds what
// a caller allocates for the elements.
func (d *decoder) count(size int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64((len(d.b)-d.off)/size) {
		d.err = errMalformed
		return 0
	}
	return int(n)
}

// bool reads one byte, 0 or 1.
func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.b) || d.b[d.off] > 1 {
		d.err = errMalformed
		return false
	}
	d.off++
	return d.b[d.off-1] == 1
}

func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 || v < minUnix || v > maxUnix {
		d.err = errMalformed
		return time.Time{}
	}
	d.off += n
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0).UTC()
}

// end reports the first error, or trailing bytes after a complete value.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.err = errMalformed
	}
	return d.err
}
