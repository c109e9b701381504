package product

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in      Decimal
		want    Money
		wantErr string
	}{
		{"19.99", 1999, ""},
		{"0.1", 10, ""},
		{"0.30", 30, ""},
		{"20", 2000, ""},
		{"1.000", 100, ""},
		{"1e2", 10000, ""},
		{"1E+2", 10000, ""},
		{"1999e-2", 1999, ""},
		{"0", 0, ""},
		{"0e999999", 0, ""},
		{"-1.5", -150, ""},
		{"9999999999999.99", 999999999999999, ""},
		{"90071992547409.91", 0, "at most"},
		{"1.001", 0, "at most 2 decimal places"},
		{"1e-3", 0, "at most 2 decimal places"},
		{"1e999999999", 0, "at most"},
		{"1e20", 0, "at most"},
		{"01", 0, "must be a number"},
		{"1.", 0, "must be a number"},
		{".5", 0, "must be a number"},
		{"1e", 0, "must be a number"},
		{"NaN", 0, "must be a number"},
		{"", 0, "must be a number"},
		{"1,5", 0, "must be a number"},
	}
	for _, tt := range tests {
		t.Run(string(tt.in), func(t *testing.T) {
			got, err := ParseMoney(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMoney = %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseMoney = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMoneyString(t *testing.T) {
	for m, want := range map[Money]string{1999: "19.99", 10: "0.10", 2000: "20.00", 0: "0.00", 1: "0.01", -150: "-1.50"} {
		if got := m.String(); got != want {
			t.Errorf("Money(%d) = %q, want %q", m, got, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	p, err := New(Draft{Name: "  Mug ", Price: "9.5", Stock: "3"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := &Product{Name: "Mug", Price: 950, Stock: 3, Attributes: Attributes{},
		CreatedAt: now.Truncate(time.Millisecond), UpdatedAt: now.Truncate(time.Millisecond), Version: 1}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, err = New(Draft{Name: "", Price: "0", Stock: "1.5", Attributes: Attributes{"x": []any{}}}, now)
	var invalid *ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("New = %v, want a ValidationError", err)
	}
	var got []string
	for _, f := range invalid.Errors {
		got = append(got, f.Field)
	}
	if diff := cmp.Diff([]string{"name", "price", "stock", "attributes.x"}, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestParseListQuery(t *testing.T) {
	q, err := ParseListQuery(ListParams{})
	if err != nil || q.Limit != DefaultLimit || q.Sort != SortCreatedAtDesc || q.After != nil {
		t.Fatalf("defaults = %+v, %v", q, err)
	}
	p := &Product{ID: "abc", Name: "Zebra Mug", Price: 1234, CreatedAt: time.UnixMilli(1700000000123).UTC()}
	for _, s := range Sorts() {
		q, err := ParseListQuery(ListParams{Sort: string(s), Cursor: EncodeCursor(s, p)})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := &Cursor{ID: "abc", CreatedAt: time.UnixMilli(0).UTC()}
		switch s.Field() {
		case FieldCreatedAt:
			want.CreatedAt = p.CreatedAt
		case FieldPrice:
			want.Price = 1234
		case FieldName:
			want.NameKey = "zebra mug"
		}
		if diff := cmp.Diff(want, q.After); diff != "" {
			t.Errorf("%s cursor (-want +got):\n%s", s, diff)
		}
	}
}
