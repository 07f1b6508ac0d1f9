package server

import "errors"

var (
	// ErrConnect is returned when the server cannot be reached or refuses
	// the login.
	ErrConnect = errors.New("server: connect")
	// ErrSchema is returned when creating the database or tables fails.
	ErrSchema = errors.New("server: create schema")
)
