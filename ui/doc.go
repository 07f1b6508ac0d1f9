// Package ui is the last stage of the pipeline: the embedded web interface
// (plain HTML, CSS and JavaScript, no build step, no external resources) that
// lists calls and draws a call's SIP ladder and RTP quality. It talks to
// nothing but the JSON API; cmd hands Handler to api.Config.UI, which mounts
// it at / and /ui/.
package ui
