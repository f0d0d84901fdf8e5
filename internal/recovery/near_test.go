package recovery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/internal/db"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/testenv"
)

// seedImages stores one image of kind per hash, each on a case of its own
// (one image per kind per case), and returns their ids in order. The rows
// go in through ent, so the phashBands hook sets their bands.
func seedImages(tb testing.TB, d *db.DB, kind evidence.Kind, hashes []uint64) []int {
	tb.Helper()
	ctx := context.Background()
	name := "near_" + uuid.NewString()[:8]
	acc := d.Ent.Account.Create().SetKind("person").SetUsername(name).
		SetUsernameKey(name).SetPasswordHash("x").SetName("张三").SetCertType("id_card").
		SetCertNumber(name).SetPhone("13800000000").SetRegionCode("440703").SaveX(ctx)
	ids := make([]int, 0, len(hashes))
	for start := 0; start < len(hashes); start += 1000 {
		batch := hashes[start:min(start+1000, len(hashes))]
		err := d.InTx(ctx, func(tx *db.Tx) error {
			cases := make([]*ent.RecoveryCaseCreate, len(batch))
			for i := range batch {
				cases[i] = tx.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
					SetTypedCertNumber("x").SetTokenHash([]byte(uuid.NewString())).SetAccountID(acc.ID)
			}
			rcs, err := tx.Ent.RecoveryCase.CreateBulk(cases...).Save(ctx)
			if err != nil {
				return err
			}
			images := make([]*ent.EvidenceCreate, len(batch))
			for i, h := range batch {
				images[i] = tx.Ent.Evidence.Create().SetCaseID(rcs[i].ID).SetKind(kind).SetObjectKey(rcs[i].ID.String()).
					SetSha256(fmt.Sprintf("%064x", h)).SetPhash(int64(h)).SetSize(1).SetWidth(1).SetHeight(1).SetContentType("image/png")
			}
			saved, err := tx.Ent.Evidence.CreateBulk(images...).Save(ctx)
			for _, e := range saved {
				ids = append(ids, e.ID)
			}
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

// flip returns h with n distinct bits flipped, chosen next to the band
// boundaries half of the time (where a scheme that split the hash wrongly
// would miss a neighbour) and anywhere otherwise.
func flip(r *rand.Rand, h uint64, n int) uint64 {
	var edges []uint
	for i := range imagecheck.PHashBands {
		shift, width := imagecheck.BandBits(i)
		edges = append(edges, shift, shift+width-1)
	}
	seen := map[uint]bool{}
	for len(seen) < n {
		bit := uint(r.IntN(64))
		if r.IntN(2) == 0 {
			bit = edges[r.IntN(len(edges))]
		}
		if !seen[bit] {
			seen[bit] = true
			h ^= 1 << bit
		}
	}
	return h
}

// TestNearImagesFindExactlyTheNearOnes is the banded index's property test:
// for random hashes, every stored image whose hash differs in at most
// NearDuplicateDistance bits (flipped across band boundaries) is found with
// its distance, and no image 7 or more bits away is reported, among
// thousands of unrelated images; for each band, one neighbour shares only
// that band. The expectation is a brute-force Hamming
// comparison with every stored hash.
func TestNearImagesFindExactlyTheNearOnes(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &Service{db: d}
		r := rand.New(rand.NewPCG(19, uint64(len(t.Name()))))
		var queries, hashes []uint64
		for range 40 {
			h := r.Uint64()
			queries = append(queries, h)
			for n := range imagecheck.NearDuplicateDistance + 1 {
				hashes = append(hashes, flip(r, h, n))
			}
			// The hardest neighbours: one bit flipped in every band but
			// one (at a band's edge), so band i is all they share.
			for keep := range imagecheck.PHashBands {
				g := h
				for i := range imagecheck.PHashBands {
					if shift, width := imagecheck.BandBits(i); i != keep {
						g ^= 1 << (shift + uint(r.IntN(2))*(width-1))
					}
				}
				hashes = append(hashes, g)
			}
			for n := imagecheck.NearDuplicateDistance + 1; n <= 12; n++ {
				hashes = append(hashes, flip(r, h, n))
			}
		}
		for range 2000 {
			hashes = append(hashes, r.Uint64())
		}
		ids := seedImages(t, d, evidence.KindIDFront, hashes)
		// The same hashes under another kind must not be found.
		seedImages(t, d, evidence.KindIDHandheld, hashes[:100])
		for _, q := range queries {
			want := map[int]int{}
			for i, h := range hashes {
				if dist := imagecheck.Hamming(h, q); dist <= imagecheck.NearDuplicateDistance {
					want[ids[i]] = dist
				}
			}
			if len(want) < imagecheck.NearDuplicateDistance+1 {
				t.Fatalf("the seeding put %d images near %016x, want at least %d", len(want), q, imagecheck.NearDuplicateDistance+1)
			}
			got, err := s.nearImages(ctx, evidence.KindIDFront, q)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("near %016x: got %v, want %v", q, got, want)
			}
		}
	})
}

// oldNearScan is the near-duplicate scan before the banded index, kept here
// to measure against: the 5 000 newest images of the kind read from the
// (kind, created_at, phash) index and compared one by one.
func oldNearScan(ctx context.Context, d *db.DB, kind evidence.Kind, h uint64) (map[int]int, error) {
	var candidates []phashCandidate
	if err := d.Ent.Evidence.Query().Where(evidence.KindEQ(kind)).Order(ent.Desc(evidence.FieldCreatedAt)).
		Limit(5000).Select(evidence.FieldID, evidence.FieldPhash).Scan(ctx, &candidates); err != nil {
		return nil, err
	}
	near := map[int]int{}
	for _, c := range candidates {
		if dist := imagecheck.Hamming(uint64(c.Phash), h); dist <= imagecheck.NearDuplicateDistance {
			near[c.ID] = dist
		}
	}
	return near, nil
}

// BenchmarkNearDuplicates compares the old scan with the banded lookup on
// SQLite at 10 000 and 100 000 images of one kind with random hashes (as
// different photos' are, to a first approximation). The images are inserted
// in one statement with foreign keys off (their cases do not exist: only the
// evidence table is read) and get their bands from the migration's fill,
// which is what makes 100 000 rows quick to set up. The old scan gets its
// covering index back so it is measured as it ran. Run with
//
//	go test -run '^$' -bench BenchmarkNearDuplicates -benchtime 200x ./internal/recovery/
func BenchmarkNearDuplicates(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		d := testenv.SQLite(b)
		ctx := context.Background()
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []string{
			"PRAGMA foreign_keys = OFF",
			"CREATE INDEX old_near_scan ON evidences (kind, created_at, phash)",
			fmt.Sprintf("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) "+
				"INSERT INTO evidences (id, created_at, updated_at, kind, object_key, sha256, phash, size, width, height, content_type, case_id) "+
				"SELECT i, datetime('now', '-' || i || ' seconds'), datetime('now'), 'id_front', 'k' || i, 's' || i, random(), 1, 1, 1, 'image/png', 'c' || i FROM c", n),
			"PRAGMA foreign_keys = ON",
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		conn.Close()
		if err := d.Migrate(ctx); err != nil { // fills the bands
			b.Fatal(err)
		}
		if _, err := d.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		var hashes []int64
		if err := d.Ent.Evidence.Query().Select(evidence.FieldPhash).Scan(ctx, &hashes); err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, uint64(n)))
		near := func() uint64 { return flip(r, uint64(hashes[r.IntN(len(hashes))]), 3) }
		s := &Service{db: d}
		b.Run(fmt.Sprintf("old_scan/%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := oldNearScan(ctx, d, evidence.KindIDFront, near()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("banded/%d", n), func(b *testing.B) {
			for b.Loop() {
				got, err := s.nearImages(ctx, evidence.KindIDFront, near())
				if err != nil || len(got) == 0 {
					b.Fatalf("%v %v", got, err)
				}
			}
		})
	}
}
