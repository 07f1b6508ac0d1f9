//go:build !linux

package inject

import (
	"context"
	"errors"

	"github.com/sipscope/sipscope/frame"
)

// inject needs AF_PACKET sockets, which only Linux has.
func Run(context.Context, Config, []frame.Frame) (Result, error) {
	return Result{}, errors.New("bench inject: AF_PACKET injection needs Linux")
}
