// Package diagnose says in words what went wrong with a call. It sits after
// correlate and quality in the pipeline: from a correlated call and the
// statistics of its RTP streams it derives machine-readable findings
// (busy, one_way_audio:caller_to_callee, high_loss:..., partial) and one or
// two plain-English sentences naming who, what, where and when, and it
// decides the MOS a call is shown with. Everything here is a pure function:
// no I/O, no state.
package diagnose
