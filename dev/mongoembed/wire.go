package mongoembed

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
// key of its body (the one kind-0 section, which drivers put first, though
// the specification allows any order).
func commandName(m message) (string, error) {
	if m.opCode() != opMsg {
		return "", fmt.Errorf("opcode %d is not OP_MSG", m.opCode())
	}
	if len(m) < headerLen+4 {
		return "", errors.New("OP_MSG without flag bits")
	}
	sections := m[headerLen+4:]
	if binary.LittleEndian.Uint32(m[headerLen:])&flagChecksumPresent != 0 {
		if len(sections) < 4 {
			return "", errors.New("OP_MSG too short for its checksum")
		}
		sections = sections[:len(sections)-4]
	}
	for len(sections) > 0 {
		kind, rest := sections[0], sections[1:]
		if len(rest) < 4 {
			return "", errors.New("truncated OP_MSG section")
		}
		size := int(int32(binary.LittleEndian.Uint32(rest)))
		if size < 5 || size > len(rest) {
			return "", fmt.Errorf("OP_MSG section size %d out of range", size)
		}
		switch kind {
		case 0: // body: one BSON document
			return firstKey(rest[:size])
		case 1: // document sequence: int32 size (itself included), identifier, documents
			sections = rest[size:]
		default:
			return "", fmt.Errorf("unknown OP_MSG section kind %d", kind)
		}
	}
	return "", errors.New("OP_MSG without a body section")
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
