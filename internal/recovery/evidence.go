package recovery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
)

// Uploaded describes a stored evidence image.
type Uploaded struct {
	Kind   string
	SHA256 string
	Size   int64
	Width  int
	Height int
}

// ImageError maps the image checker's refusals to what the applicant reads
// (the API's description lists its answers from here).
func ImageError(err error) error {
	msg := imagecheck.Message(err)
	switch {
	case errors.Is(err, imagecheck.ErrTooLarge):
		return apperr.New(apperr.TooLarge, "file_too_large", msg).WithField("file")
	case errors.Is(err, imagecheck.ErrUnsupportedType):
		return apperr.New(apperr.Unsupported, "unsupported_type", msg).WithField("file")
	case errors.Is(err, imagecheck.ErrDimensions), errors.Is(err, imagecheck.ErrUnreadable):
		return apperr.New(apperr.Invalid, "unreadable_image", msg).WithField("file")
	}
	return err
}

// Upload is step 3, 上传证件照: it checks one image (size, type by its bytes,
// dimensions before decoding, a full decode), strips its metadata, and
// stores it. The decode starts as soon as the checks that bound it have
// passed, and the stripped bytes go to the object store while it runs (the
// PUT and the decode are the two costs an upload cannot avoid, and they
// overlap; the strip and its digest hide under the decode too); an image
// that does not decode is refused and its object deleted before any row
// refers to it. The row is written in a transaction after; if the
// transaction fails the object is deleted, and an image uploaded again
// replaces the old one, whose object is deleted once the new row is in.
func (s *Service) Upload(ctx context.Context, rc *ent.RecoveryCase, kind string, data []byte) (*Uploaded, error) {
	if !slices.Contains(RequiredEvidence(string(rc.Kind)), kind) {
		return nil, ErrUnknownKind.WithField("kind")
	}
	if (rc.Status != state.Draft && rc.Status != state.Returned) || rc.PhoneVerifiedAt == nil {
		return nil, ErrWrongStep
	}
	in, err := imagecheck.Inspect(data)
	if err != nil {
		return nil, ImageError(err)
	}
	key, err := objectKey(rc, kind)
	if err != nil {
		return nil, err
	}
	img, phash, stored, err := s.storeAndDecode(ctx, key, in)
	if err != nil {
		if stored {
			s.deleteObjects(ctx, []string{key})
		}
		return nil, err
	}
	res := img.Result(phash)
	now := s.clock.Now()
	var replaced string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		old, err := tx.Ent.Evidence.Query().Where(evidence.CaseID(rc.ID), evidence.KindEQ(evidence.Kind(kind))).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		before := map[string]any(nil)
		if old != nil {
			replaced, before = old.ObjectKey, map[string]any{"sha256": old.Sha256}
			if err := tx.Ent.Evidence.DeleteOne(old).Exec(ctx); err != nil {
				return err
			}
		}
		if err := tx.Ent.Evidence.Create().SetCaseID(rc.ID).SetKind(evidence.Kind(kind)).SetObjectKey(key).
			SetSha256(res.SHA256).SetPhash(int64(res.PHash)).SetSize(int64(len(res.Data))).SetWidth(res.Width).
			SetHeight(res.Height).SetContentType(res.ContentType).SetCreatedAt(now).SetUpdatedAt(now).Exec(ctx); err != nil {
			return err
		}
		if err := tx.Ent.RecoveryCase.UpdateOne(rc).SetUpdatedAt(now).AddVersion(1).Exec(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, rc, now, actorApplicant, vocab.EventEvidenceUploaded, before,
			map[string]any{"kind": kind, "sha256": res.SHA256, "size": len(res.Data)})
	})
	if err != nil {
		s.deleteObjects(ctx, []string{key})
		return nil, err
	}
	if replaced != "" {
		s.deleteObjects(ctx, []string{replaced})
	}
	return &Uploaded{Kind: kind, SHA256: res.SHA256, Size: int64(len(res.Data)), Width: res.Width, Height: res.Height}, nil
}

// storeAndDecode decodes the inspected upload while it strips it and
// stores the stripped bytes under key, and waits for all of it; stored says
// whether the object may exist (the caller deletes it when err is set). One
// slot per core covers the whole: a decode can hold a large image, and PUTs
// started without a bound would all wait on the store at once in a burst of
// uploads (past RD_S3_TIMEOUT on a busy host), so a burst queues here, as
// it did for the image check alone. The PUT is waited for even when the
// decode fails: cancelling it instead could leave the server committing an
// object after the deletion was sent. Refusals of the image come back as
// ImageError's.
func (s *Service) storeAndDecode(ctx context.Context, key string, in *imagecheck.Inspected) (img *imagecheck.Prepared, phash uint64, stored bool, err error) {
	select {
	case s.checks <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, false, ctx.Err() // nothing stored
	}
	defer func() { <-s.checks }()
	type decoded struct {
		phash uint64
		err   error
	}
	dec := make(chan decoded, 1)
	go func() {
		h, err := in.Decode()
		dec <- decoded{h, err}
	}()
	img, err = in.Strip()
	var putErr error
	if err == nil {
		stored = true
		putErr = s.store.Put(ctx, key, bytes.NewReader(img.Data), int64(len(img.Data)), img.SHA256, img.ContentType)
	}
	d := <-dec // the decode's memory is the slot's until it ends
	switch {
	case err != nil:
		return nil, 0, false, ImageError(err)
	case d.err != nil:
		return nil, 0, stored && putErr == nil, ImageError(d.err)
	case putErr != nil:
		return nil, 0, false, fmt.Errorf("store evidence: %w", putErr)
	}
	return img, d.phash, true, nil
}

// objectKey is an unguessable key: the case id alone is not enough to find
// an image in the bucket.
func objectKey(rc *ent.RecoveryCase, kind string) (string, error) {
	r := make([]byte, 16)
	if _, err := rand.Read(r); err != nil {
		return "", err
	}
	return fmt.Sprintf("evidence/%s/%s-%s", rc.ID, kind, hex.EncodeToString(r)), nil
}

// deleteObjects removes objects after their rows are gone; a failure is
// logged and left to the orphan clean-up.
func (s *Service) deleteObjects(ctx context.Context, keys []string) {
	for _, k := range keys {
		if err := s.store.Delete(context.WithoutCancel(ctx), k); err != nil {
			s.logger.WarnContext(ctx, "delete evidence object; the orphan clean-up will retry", "key", k, "err", err)
		}
	}
}
