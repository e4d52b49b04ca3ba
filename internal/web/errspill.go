package web

import (
	"bufio"
	"context"
	"encoding/gob"
	"fmt"
	"iter"
	"os"

	"github.com/roster-dev/roster"
)

// errorSpill keeps an upload's errors in a temporary file while the file is validated, so
// that a file with millions of errors costs disk, not memory: the store sorts them as it
// saves them, pulling them back one at a time through all.
type errorSpill struct {
	f   *os.File
	w   *bufio.Writer
	enc *gob.Encoder
	n   int
	err error // the first write error; add does nothing after it
}

// newErrorSpill creates the file in the system's temporary directory ($TMPDIR).
func newErrorSpill() (*errorSpill, error) {
	f, err := os.CreateTemp("", "roster-upload-errors-*.gob")
	if err != nil {
		return nil, fmt.Errorf("creating the file for upload errors: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	return &errorSpill{f: f, w: w, enc: gob.NewEncoder(w)}, nil
}

// add appends e. Not safe for concurrent use.
func (s *errorSpill) add(e roster.RowError) {
	if s.err != nil {
		return
	}
	if err := s.enc.Encode(e); err != nil {
		s.err = fmt.Errorf("writing upload errors to %s: %w", s.f.Name(), err)
		return
	}
	s.n++
}

// finish flushes what add wrote; it returns the first write error, if any.
func (s *errorSpill) finish() error {
	if s.err == nil {
		if err := s.w.Flush(); err != nil {
			s.err = fmt.Errorf("writing upload errors to %s: %w", s.f.Name(), err)
		}
	}
	return s.err
}

// all reads the errors back in the order they were added, from the start of the file on
// every call; nil when there are none. An iterator cannot return an error, so a failed
// read cancels the context the store is saving under (through cancel) with the cause,
// and the store's transaction rolls back instead of keeping a partial list.
func (s *errorSpill) all(cancel context.CancelCauseFunc) iter.Seq[roster.RowError] {
	if s.n == 0 {
		return nil
	}
	return func(yield func(roster.RowError) bool) {
		if _, err := s.f.Seek(0, 0); err != nil {
			cancel(fmt.Errorf("reading upload errors back from %s: %w", s.f.Name(), err))
			return
		}
		dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 64<<10))
		for i := 0; i < s.n; i++ {
			// A fresh value each time: gob leaves out zero fields, so a reused one would
			// keep the previous error's value where this one's is blank.
			var e roster.RowError
			if err := dec.Decode(&e); err != nil {
				cancel(fmt.Errorf("reading upload error %d back from %s: %w", i+1, s.f.Name(), err))
				return
			}
			if !yield(e) {
				return
			}
		}
	}
}

// close removes the file.
func (s *errorSpill) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}
