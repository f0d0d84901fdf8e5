package demodata

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
	"recoverydesk/storage"
)

// SeedEvidence gives up to limit cases without evidence their images: a
// distinct generated photo per kind (so no two cases look like duplicates of
// each other), checked and stripped by imagecheck as an upload is, written to
// the store under its own key, and its row inserted after the object exists.
// Cases a reviewer can still act on come first (newest first), then the most
// recently decided ones. Every object costs one PUT, and object keys are
// unique per row (a row's deletion deletes its object), so the benchmark
// bounds limit rather than giving a million cases their images; it returns
// how many cases got evidence.
func SeedEvidence(ctx context.Context, d *db.DB, store *storage.Store, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var picked []*ent.RecoveryCase
	for _, statuses := range [][]state.Status{
		{state.Submitted, state.InReview, state.AwaitingSecond, state.Returned},
		{state.Approved, state.Rejected},
	} {
		if len(picked) >= limit {
			break
		}
		rows, err := d.Ent.RecoveryCase.Query().Where(recoverycase.StatusIn(statuses...), recoverycase.Not(recoverycase.HasEvidence())).
			Order(ent.Desc(recoverycase.FieldSubmittedAt)).Limit(limit - len(picked)).All(ctx)
		if err != nil {
			return 0, err
		}
		picked = append(picked, rows...)
	}
	type job struct {
		rc   *ent.RecoveryCase
		kind string
		n    int
	}
	jobs := make(chan job)
	var (
		mu      sync.Mutex
		first   error
		created []evidenceRow
	)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				row, err := putEvidence(ctx, store, j.rc, j.kind, j.n)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				} else if err == nil {
					created = append(created, row)
				}
				mu.Unlock()
			}
		}()
	}
	n := 0
	for _, rc := range picked {
		for _, kind := range recovery.RequiredEvidence(string(rc.Kind)) {
			n++
			select {
			case jobs <- job{rc, kind, n}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return 0, first
	}
	for from := 0; from < len(created); from += 500 {
		part := created[from:min(from+500, len(created))]
		err := d.InTx(ctx, func(tx *db.Tx) error {
			creates := make([]*ent.EvidenceCreate, len(part))
			for i, r := range part {
				creates[i] = tx.Ent.Evidence.Create().SetCaseID(r.caseID).SetKind(evidence.Kind(r.kind)).SetObjectKey(r.key).
					SetSha256(r.res.SHA256).SetPhash(int64(r.res.PHash)).SetSize(int64(len(r.res.Data))).
					SetWidth(r.res.Width).SetHeight(r.res.Height).SetContentType(r.res.ContentType).
					SetCreatedAt(r.at).SetUpdatedAt(r.at)
			}
			return tx.Ent.Evidence.CreateBulk(creates...).Exec(ctx)
		})
		if err != nil {
			return 0, fmt.Errorf("evidence rows: %w", err)
		}
	}
	return len(picked), nil
}

// evidenceRow is a stored object waiting for its row.
type evidenceRow struct {
	caseID uuid.UUID
	kind   string
	key    string
	at     time.Time
	res    *imagecheck.Result
}

// putEvidence draws the n-th image, checks it as an upload is checked, and
// stores it under a fresh unguessable key.
func putEvidence(ctx context.Context, store *storage.Store, rc *ent.RecoveryCase, kind string, n int) (evidenceRow, error) {
	res, err := imagecheck.Check(photo(uint64(n)^uint64(rc.ID[0])<<56^uint64(rc.ID[1])<<48^uint64(rc.ID[2])<<40, kind))
	if err != nil {
		return evidenceRow{}, fmt.Errorf("generated evidence: %w", err)
	}
	r := make([]byte, 16)
	if _, err := rand.Read(r); err != nil {
		return evidenceRow{}, err
	}
	key := fmt.Sprintf("evidence/%s/%s-%s", rc.ID, kind, hex.EncodeToString(r))
	if err := store.Put(ctx, key, bytes.NewReader(res.Data), int64(len(res.Data)), res.SHA256, res.ContentType); err != nil {
		return evidenceRow{}, fmt.Errorf("store evidence: %w", err)
	}
	at := rc.CreatedAt.Add(10 * time.Minute)
	return evidenceRow{caseID: rc.ID, kind: kind, key: key, at: at, res: res}, nil
}

// photo draws a 480×300 card-like image: a tinted background, a header
// band, a photo block and text lines whose placement comes from seed, with
// sensor-like noise, so every image (and its perceptual hash) differs.
func photo(seed uint64, kind string) []byte {
	r := mrand.New(mrand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	const w, h = 480, 300
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	base := color.RGBA{uint8(170 + r.IntN(80)), uint8(170 + r.IntN(80)), uint8(170 + r.IntN(80)), 255}
	if kind == string(vocab.EvidenceUnitLicense) || kind == string(vocab.EvidenceAuthorization) {
		base = color.RGBA{uint8(225 + r.IntN(30)), uint8(215 + r.IntN(30)), uint8(190 + r.IntN(40)), 255}
	}
	band := 30 + r.IntN(40)
	px, py, pw, ph := 20+r.IntN(300), band+10+r.IntN(40), 90+r.IntN(40), 110+r.IntN(40)
	type line struct{ x, y, l int }
	var lines []line
	for k := 0; k < 4+r.IntN(4); k++ {
		lines = append(lines, line{20 + r.IntN(60), band + 20 + k*28 + r.IntN(8), 80 + r.IntN(260)})
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := base
			switch {
			case y < band:
				c = color.RGBA{base.R / 2, base.G / 3, base.B / 2, 255}
			case x >= px && x < px+pw && y >= py && y < py+ph:
				c = color.RGBA{uint8(60 + (x-px)*2), uint8(80 + (y - py)), uint8(90 + r.IntN(20)), 255}
			}
			for _, l := range lines {
				if y >= l.y && y < l.y+6 && x >= l.x && x < l.x+l.l && (x/7)%3 != 0 {
					c = color.RGBA{40, 40, 50, 255}
				}
			}
			noise := uint8(r.IntN(12))
			c.R, c.G, c.B = sat(c.R, noise), sat(c.G, noise), sat(c.B, noise)
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}

func sat(v, add uint8) uint8 {
	if int(v)+int(add) > 255 {
		return 255
	}
	return v + add
}
