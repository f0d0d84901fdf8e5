// Package faults is the fault suite of issue 12: it starts the real
// recoverydesk binary against real PostgreSQL and MinIO, with a stub SMS
// gateway on loopback, breaks one thing at a time (the gateway, the process,
// the object store) and asserts what an operator would see. Its tests carry
// the build tag "faults" so that `make test` leaves them out; run them with
// `make faults`.
package faults
