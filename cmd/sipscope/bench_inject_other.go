//go:build !linux

package main

import (
	"context"
	"errors"

	"github.com/sipscope/sipscope/frame"
)

// inject needs AF_PACKET sockets, which only Linux has.
func inject(context.Context, injectConfig, []frame.Frame) (injectResult, error) {
	return injectResult{}, errors.New("bench inject: AF_PACKET injection needs Linux")
}
