// Package ent holds the generated data layer. Only schema/ and this file are
// written by hand; run `make generate` after changing a schema.
package ent

//go:generate go run -mod=mod entgo.io/ent/cmd/ent generate --feature sql/lock,sql/upsert,sql/modifier,sql/execquery,intercept ./schema
