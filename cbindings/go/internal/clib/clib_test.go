package clib

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// withSources runs f with these linked and loader values in place of what
// the process registered, resetting Get's memory before and after.
func withSources(t *testing.T, l *Lib, load func() (*Lib, error), f func()) {
	t.Helper()
	savedLinked, savedLoader := linked, loader
	t.Cleanup(func() {
		linked, loader = savedLinked, savedLoader
		once, lib, libErr = sync.Once{}, nil, nil
	})
	linked, loader = l, load
	once, lib, libErr = sync.Once{}, nil, nil
	f()
}

// complete is a table with every call set (to a stub that is never called)
// and the mirrored version.
func complete() *Lib {
	l := &Lib{Source: "a stub"}
	v := reflect.ValueOf(l).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Func {
			name := v.Type().Field(i).Name
			f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value { panic("stub " + name + " called") }))
		}
	}
	l.Version = func() string { return LibraryVersion }
	return l
}

func TestGetSaysWhatIsMissing(t *testing.T) {
	t.Run("no cgo and no loader", func(t *testing.T) {
		withSources(t, nil, nil, func() {
			_, err := Get()
			if !errors.Is(err, ErrNoCgoNoLoader) || !strings.Contains(err.Error(), LoaderModule) {
				t.Errorf("Get() = %v, want ErrNoCgoNoLoader naming %s", err, LoaderModule)
			}
		})
	})
	t.Run("the loader's error", func(t *testing.T) {
		want := errors.New("tsnocgo: tried this and that")
		withSources(t, nil, func() (*Lib, error) { return nil, want }, func() {
			if _, err := Get(); err != want {
				t.Errorf("Get() = %v, want the loader's error", err)
			}
		})
	})
	t.Run("a call missing", func(t *testing.T) {
		l := complete()
		l.TrackTotals = nil
		withSources(t, nil, func() (*Lib, error) { return l, nil }, func() {
			if _, err := Get(); err == nil || !strings.Contains(err.Error(), "TrackTotals") {
				t.Errorf("Get() = %v, want an error naming TrackTotals", err)
			}
		})
	})
	t.Run("another version", func(t *testing.T) {
		l := complete()
		l.Version = func() string { return "0.0.1" }
		withSources(t, l, nil, func() {
			if _, err := Get(); err == nil || !strings.Contains(err.Error(), "0.0.1") || !strings.Contains(err.Error(), LibraryVersion) {
				t.Errorf("Get() = %v, want an error naming both versions", err)
			}
		})
	})
	t.Run("linked first", func(t *testing.T) {
		l := complete()
		withSources(t, l, func() (*Lib, error) { t.Error("the loader ran with a linked library"); return nil, nil }, func() {
			if got, err := Get(); got != l || err != nil {
				t.Errorf("Get() = %v, %v, want the linked table", got, err)
			}
		})
	})
}
