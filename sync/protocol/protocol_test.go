package protocol

import (
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{{}, {Seq: 1, Scope: "0123456789abcdef"}, {Seq: 1 << 40, Scope: "ffffffffffffffff"}} {
		got, err := ParseCursor(c.String())
		if err != nil || got != c {
			t.Fatalf("round trip of %+v gave %+v, %v", c, got, err)
		}
	}
}

func TestParseCursorRejects(t *testing.T) {
	for _, s := range []string{"12", "c1.", "c1.12", "c1.-1.0123456789abcdef", "c1.12.0123456789ABCDEF", "c1.x.0123456789abcdef", "c1.12.0123"} {
		if _, err := ParseCursor(s); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) = %v, want ErrBadCursor", s, err)
		}
	}
}

func TestIsUUID(t *testing.T) {
	cases := map[string]bool{
		"0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c":  true,
		"0B7E6C1A-3F2D-4E5A-9B8C-7D6E5F4A3B2C":  false, // ids are lowercase
		"0b7e6c1a3f2d4e5a9b8c7d6e5f4a3b2c":      false,
		"abc":                                   false,
		"":                                      false,
		"0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2g":  false, // not hex
		"0b7e6c1a-3f2d-4e5a-9b8c_7d6e5f4a3b2c":  false, // hyphen missing
		"0b7e6c1a-3f2d-4e5a9-b8c-7d6e5f4a3b2c":  false, // hyphen misplaced
		"0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c0": false, // too long
		" 0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2":  false,
	}
	for s, want := range cases {
		if IsUUID(s) != want {
			t.Errorf("IsUUID(%q) != %v", s, want)
		}
	}
}

func TestInSchema(t *testing.T) {
	if !InSchema(1, "persons", "display_name") || InSchema(1, "bed_programs", "available") {
		t.Fatal("schema 1 must know its own fields and not later ones")
	}
	if !InSchema(SchemaCurrent, "bed_programs", "available") {
		t.Fatal("the current schema knows every field")
	}
	for c := range WritePolicy {
		if WritePolicy[c] != PolicyReadOnly && WritePolicy[c] != PolicyAppendOnly && len(Schema1Fields[c]) == 0 {
			t.Errorf("writable collection %s has no schema 1 fields", c)
		}
	}
}
