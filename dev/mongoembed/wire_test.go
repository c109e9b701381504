package mongoembed

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// opMsgBytes builds an OP_MSG with the given flag bits and sections.
func opMsgBytes(flags uint32, sections ...[]byte) message {
	body := binary.LittleEndian.AppendUint32(nil, flags)
	for _, s := range sections {
		body = append(body, s...)
	}
	if flags&flagChecksumPresent != 0 {
		body = append(body, 0, 0, 0, 0) // the proxy never checks it
	}
	m := make([]byte, headerLen, headerLen+len(body))
	binary.LittleEndian.PutUint32(m[0:], uint32(headerLen+len(body)))
	binary.LittleEndian.PutUint32(m[12:], opMsg)
	return append(m, body...)
}

func bodySection(t *testing.T, doc bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{0}, b...)
}

func sequenceSection(t *testing.T, id string, docs ...bson.D) []byte {
	t.Helper()
	payload := append([]byte(id), 0)
	for _, d := range docs {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		payload = append(payload, b...)
	}
	s := binary.LittleEndian.AppendUint32([]byte{1}, uint32(4+len(payload)))
	return append(s, payload...)
}

func TestCommandName(t *testing.T) {
	update := bson.D{{Key: "update", Value: "products"}, {Key: "$db", Value: "shop"}}
	tests := []struct {
		name    string
		msg     message
		want    string
		wantErr bool
	}{
		{"body only", opMsgBytes(0, bodySection(t, update)), "update", false},
		{"checksum present", opMsgBytes(flagChecksumPresent, bodySection(t, update)), "update", false},
		{"sequence before body", opMsgBytes(0,
			sequenceSection(t, "documents", bson.D{{Key: "_id", Value: 1}}),
			bodySection(t, bson.D{{Key: "insert", Value: "products"}})), "insert", false},
		{"read", opMsgBytes(0, bodySection(t, bson.D{{Key: "find", Value: "products"}})), "find", false},
		{"empty body", opMsgBytes(0, bodySection(t, bson.D{})), "", true},
		{"no sections", opMsgBytes(0), "", true},
		{"unknown section kind", opMsgBytes(0, []byte{7, 5, 0, 0, 0, 0}), "", true},
		{"section size past the end", opMsgBytes(0, []byte{0, 99, 0, 0, 0, 0}), "", true},
		{"not OP_MSG", func() message {
			m := opMsgBytes(0, bodySection(t, update))
			binary.LittleEndian.PutUint32(m[12:], 2004)
			return m
		}(), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commandName(tt.msg)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("commandName = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestIsWriteCommand(t *testing.T) {
	tests := map[string]bool{
		"insert": true, "update": true, "delete": true, "findAndModify": true, "findandmodify": true,
		"find": false, "aggregate": false, "getMore": false, "createIndexes": false, "hello": false,
		"Insert": false, // MongoDB command names are case-sensitive
	}
	for name, want := range tests {
		if got := isWriteCommand(name); got != want {
			t.Errorf("isWriteCommand(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestReadMessage(t *testing.T) {
	valid := opMsgBytes(flagMoreToCome, bodySection(t, bson.D{{Key: "ping", Value: 1}}))
	tooLong := binary.LittleEndian.AppendUint32(nil, maxMessageLen+1)
	tooLong = append(tooLong, make([]byte, 12)...)
	errAny := errors.New("any error")
	tests := []struct {
		name    string
		input   []byte
		wantErr error // nil: the whole of valid is read; errAny: any error will do
	}{
		{"whole message", valid, nil},
		{"clean end", nil, io.EOF},
		{"cut in header", valid[:7], io.ErrUnexpectedEOF},
		{"cut in body", valid[:len(valid)-1], io.ErrUnexpectedEOF},
		{"length out of range", tooLong, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := readMessage(bufio.NewReader(bytes.NewReader(tt.input)))
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("readMessage: %v", err)
			case tt.wantErr == nil:
				if !bytes.Equal(m, valid) || !m.moreToCome() {
					t.Errorf("readMessage = %x (moreToCome %v), want %x", m, m.moreToCome(), valid)
				}
			case err == nil:
				t.Fatal("readMessage succeeded, want an error")
			case tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("readMessage error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
