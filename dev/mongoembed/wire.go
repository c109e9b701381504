package mongoembed

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Wire-protocol constants, from the MongoDB wire protocol specification.
const (
	headerLen = 16 // int32 messageLength, requestID, responseTo, opCode

	// maxMessageLen is FerretDB's limit (and the maxMessageSizeBytes it
	// announces in hello), so anything longer is garbage, not a message.
	maxMessageLen = 48_000_000

	opMsg        = 2013
	opCompressed = 2012

	flagChecksumPresent = 1 << 0
	flagMoreToCome      = 1 << 1
)

// isWriteCommand reports whether FerretDB v1 applies the command as an
// unlocked read-then-write. Names are spelled as drivers send them;
// "findandmodify" is the legacy alias MongoDB still accepts.
func isWriteCommand(name string) bool {
	switch name {
	case "insert", "update", "delete", "findAndModify", "findandmodify":
		return true
	}
	return false
}

// message is one whole wire-protocol message, header included.
type message []byte

func (m message) opCode() int32 { return int32(binary.LittleEndian.Uint32(m[12:16])) }

// moreToCome reports whether an OP_MSG carries the moreToCome flag: on a
// request, the sender expects no reply; on a reply, more replies follow.
func (m message) moreToCome() bool {
	return m.opCode() == opMsg && len(m) >= headerLen+4 &&
		binary.LittleEndian.Uint32(m[headerLen:])&flagMoreToCome != 0
}

// readMessage reads one message. It returns io.EOF only when r ends cleanly
// between two messages.
func readMessage(r *bufio.Reader) (message, error) {
	var header [headerLen]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read message header: %w", err)
		}
		return nil, err
	}
	n := int32(binary.LittleEndian.Uint32(header[:4]))
	if n < headerLen || n > maxMessageLen {
		return nil, fmt.Errorf("message length %d out of range [%d, %d]", n, headerLen, maxMessageLen)
	}
	m := make(message, n)
	copy(m, header[:])
	if _, err := io.ReadFull(r, m[headerLen:]); err != nil {
		return nil, fmt.Errorf("read message body: %w", io.ErrUnexpectedEOF)
	}
	return m, nil
}

// commandName returns the name of the command an OP_MSG carries: the first
// key of its body.
func commandName(m message) (string, error) {
	s, err := splitOpMsg(m)
	if err != nil {
		return "", err
	}
	return firstKey(s.body)
}

// msgParts is an OP_MSG split into its sections: exactly one body (kind 0) and
// any number of document sequences (kind 1), which drivers use for the
// documents, updates or deletes of a write command.
type msgParts struct {
	requestID int32
	flags     uint32
	body      bson.Raw
	sequences []docSequence // in message order
}

// docSequence is a kind-1 section: the command field it stands for (such as
// "updates") and its documents.
type docSequence struct {
	id   string
	docs []bson.Raw
}

// splitOpMsg splits an OP_MSG into its sections, checking their framing
// (not the BSON inside the documents). Sections may come in any order; a
// checksum, if present, is skipped, not checked.
func splitOpMsg(m message) (msgParts, error) {
	if m.opCode() != opMsg {
		return msgParts{}, fmt.Errorf("opcode %d is not OP_MSG", m.opCode())
	}
	if len(m) < headerLen+4 {
		return msgParts{}, errors.New("OP_MSG without flag bits")
	}
	s := msgParts{
		requestID: int32(binary.LittleEndian.Uint32(m[4:8])),
		flags:     binary.LittleEndian.Uint32(m[headerLen:]),
	}
	sections := m[headerLen+4:]
	if s.flags&flagChecksumPresent != 0 {
		if len(sections) < 4 {
			return msgParts{}, errors.New("OP_MSG too short for its checksum")
		}
		sections = sections[:len(sections)-4]
	}
	for len(sections) > 0 {
		kind, rest := sections[0], sections[1:]
		if len(rest) < 4 {
			return msgParts{}, errors.New("truncated OP_MSG section")
		}
		size := int(int32(binary.LittleEndian.Uint32(rest)))
		if size < 5 || size > len(rest) {
			return msgParts{}, fmt.Errorf("OP_MSG section size %d out of range", size)
		}
		switch kind {
		case 0: // body: one BSON document
			if s.body != nil {
				return msgParts{}, errors.New("OP_MSG with two body sections")
			}
			s.body = bson.Raw(rest[:size])
		case 1: // document sequence: int32 size (itself included), identifier, documents
			seq, err := splitSequence(rest[4:size])
			if err != nil {
				return msgParts{}, err
			}
			s.sequences = append(s.sequences, seq)
		default:
			return msgParts{}, fmt.Errorf("unknown OP_MSG section kind %d", kind)
		}
		sections = rest[size:]
	}
	if s.body == nil {
		return msgParts{}, errors.New("OP_MSG without a body section")
	}
	return s, nil
}

// splitSequence splits the payload of a kind-1 section (after its size): a
// NUL-terminated identifier, then whole BSON documents.
func splitSequence(b []byte) (docSequence, error) {
	id, docs, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return docSequence{}, errors.New("unterminated OP_MSG document sequence identifier")
	}
	seq := docSequence{id: string(id)}
	for len(docs) > 0 {
		if len(docs) < 5 {
			return docSequence{}, errors.New("truncated document in OP_MSG document sequence")
		}
		n := int(int32(binary.LittleEndian.Uint32(docs)))
		if n < 5 || n > len(docs) {
			return docSequence{}, fmt.Errorf("document size %d out of range in OP_MSG document sequence", n)
		}
		seq.docs = append(seq.docs, bson.Raw(docs[:n]))
		docs = docs[n:]
	}
	return seq, nil
}

// buildOpMsg assembles an OP_MSG: the body first, then the sequences, which
// is the order drivers use. It never sets a checksum.
func buildOpMsg(requestID, responseTo int32, flags uint32, body bson.Raw, sequences []docSequence) message {
	m := make(message, headerLen, headerLen+4+1+len(body))
	binary.LittleEndian.PutUint32(m[4:], uint32(requestID))
	binary.LittleEndian.PutUint32(m[8:], uint32(responseTo))
	binary.LittleEndian.PutUint32(m[12:], opMsg)
	m = binary.LittleEndian.AppendUint32(m, flags&^flagChecksumPresent)
	m = append(m, 0)
	m = append(m, body...)
	for _, seq := range sequences {
		size := 4 + len(seq.id) + 1
		for _, d := range seq.docs {
			size += len(d)
		}
		m = append(m, 1)
		m = binary.LittleEndian.AppendUint32(m, uint32(size))
		m = append(m, seq.id...)
		m = append(m, 0)
		for _, d := range seq.docs {
			m = append(m, d...)
		}
	}
	binary.LittleEndian.PutUint32(m[0:], uint32(len(m)))
	return m
}

// firstKey returns the first key of a BSON document: int32 length, then
// elements of a type byte, a NUL-terminated key and a value.
func firstKey(doc []byte) (string, error) {
	if len(doc) < 5 || doc[4] == 0 {
		return "", errors.New("empty command document")
	}
	key, _, ok := bytes.Cut(doc[5:], []byte{0})
	if !ok {
		return "", errors.New("unterminated key in command document")
	}
	return string(key), nil
}
