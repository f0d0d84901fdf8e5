package recovery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/testenv"
)

// TestNearImagesOfManyHashesAtOnce: the one query for several hashes (a
// case's images together) finds for each exactly what a query of its own
// finds, kinds kept apart.
func TestNearImagesOfManyHashesAtOnce(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &Service{db: d}
		r := rand.New(rand.NewPCG(7, uint64(len(t.Name()))))
		var qs []phashQuery
		var front, handheld []uint64
		for i := range 8 {
			h := r.Uint64()
			kind := evidence.KindIDFront
			if i%2 == 1 {
				kind = evidence.KindIDHandheld
			}
			qs = append(qs, phashQuery{Kind: kind, Hash: h})
			for n := range 10 {
				front = append(front, flip(r, h, n))
				handheld = append(handheld, flip(r, h, n))
			}
		}
		for range 500 {
			front = append(front, r.Uint64())
		}
		seedImages(t, d, evidence.KindIDFront, front)
		seedImages(t, d, evidence.KindIDHandheld, handheld)
		got, err := s.nearImagesOf(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range qs {
			want, err := s.nearImages(ctx, q.Kind, q.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || fmt.Sprint(got[i]) != fmt.Sprint(want) {
				t.Fatalf("query %d (%s %016x): together %v, alone %v", i, q.Kind, q.Hash, got[i], want)
			}
		}
	})
}

// TestDuplicatesOfACaseAreThoseOfEachImage: a case's duplicates, searched
// for all its images at once, are per image what a reviewer saw when each
// image was searched alone: exact copies (of any kind), near images of the
// same kind, other accounts' numbered cases only, in case-number order,
// openable only inside the reviewer's regions.
func TestDuplicatesOfACaseAreThoseOfEachImage(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &Service{db: d}
		const h1, h2 = uint64(0x0123456789abcdef), uint64(0xfedcba9876543210)
		sha := func(h uint64) string { return fmt.Sprintf("%064x", h) }
		accounts := map[string]*ent.Account{}
		account := func(name string) *ent.Account {
			if a := accounts[name]; a != nil {
				return a
			}
			a := d.Ent.Account.Create().SetKind("person").SetUsername(name).SetUsernameKey(name).SetPasswordHash("x").
				SetName("张三").SetCertType("id_card").SetCertNumber(name).SetPhone("13800000000").SetRegionCode("440703").SaveX(ctx)
			accounts[name] = a
			return a
		}
		type image struct {
			kind evidence.Kind
			hash uint64
			sha  string
		}
		newCase := func(acc, number, region string, images ...image) *ent.RecoveryCase {
			c := d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode(region).SetTypedCertType("id_card").
				SetTypedCertNumber("x").SetTokenHash([]byte(uuid.NewString())).SetAccount(account(acc))
			if number != "" {
				c.SetCaseNumber(number)
			}
			rc := c.SaveX(ctx)
			for _, im := range images {
				d.Ent.Evidence.Create().SetCaseID(rc.ID).SetKind(im.kind).SetObjectKey(uuid.NewString()).SetSha256(im.sha).
					SetPhash(int64(im.hash)).SetSize(1).SetWidth(1).SetHeight(1).SetContentType("image/png").ExecX(ctx)
			}
			return rc
		}
		near := func(h uint64, n int) uint64 { return h ^ (1<<n - 1) } // n bits flipped
		rc := newCase("a", "R440703-000001", "440703",
			image{evidence.KindIDFront, h1, sha(h1)}, image{evidence.KindIDHandheld, h2, sha(h2)})
		newCase("b", "R440703-000005", "440703", image{evidence.KindIDFront, h1, sha(h1)},
			image{evidence.KindIDHandheld, near(h2, 3), sha(near(h2, 3))})
		newCase("c", "R440703-000003", "440703", image{evidence.KindIDHandheld, near(h2, 9), sha(h1)}) // an exact copy filed as another kind
		newCase("c", "R440703-000004", "440703", image{evidence.KindIDFront, near(h1, 7), sha(near(h1, 7))})
		newCase("d", "R440100-000002", "440100", image{evidence.KindIDFront, near(h1, 2), sha(near(h1, 2))})
		newCase("d", "R440100-000006", "440100", image{evidence.KindIDHandheld, near(h1, 1), sha(near(h1, 1))}) // near image 1, other kind
		newCase("a", "R440703-000007", "440703", image{evidence.KindIDFront, h1, sha(h1)})                      // the same account
		newCase("e", "", "440703", image{evidence.KindIDFront, h1, sha(h1)})                                    // not submitted
		load := func(id uuid.UUID) *ent.RecoveryCase {
			return d.Ent.RecoveryCase.Query().Where(recoverycase.ID(id)).WithAccount().
				WithEvidence(func(q *ent.EvidenceQuery) { q.Order(ent.Asc(evidence.FieldKind)) }).OnlyX(ctx)
		}
		rc = load(rc.ID)
		rv := Reviewer{ID: 1, Username: "r", Regions: []string{"440703"}}
		images := rc.Edges.Evidence
		if len(images) != 2 || imagecheck.Hamming(uint64(images[0].Phash), h1) != 0 {
			t.Fatalf("fixture: case %s has %d images", *rc.CaseNumber, len(images))
		}
		together, err := s.duplicates(ctx, rv, rc, images)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]Duplicate{
			{{CaseNumber: "R440100-000002", Distance: 2}, {CaseNumber: "R440703-000003", Exact: true, Visible: true},
				{CaseNumber: "R440703-000005", Exact: true, Visible: true}},
			{{CaseNumber: "R440703-000005", Distance: 3, Visible: true}},
		}
		if !reflect.DeepEqual(together, want) {
			t.Fatalf("duplicates of the case's images: got %+v, want %+v", together, want)
		}
		for i, e := range images {
			alone, err := s.duplicates(ctx, rv, rc, []*ent.Evidence{e})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(alone[0], together[i]) {
				t.Fatalf("image %d: alone %+v, together %+v", i, alone[0], together[i])
			}
		}
		// An image nobody else used has none (nil, as before).
		lone := newCase("f", "R440703-000009", "440703", image{evidence.KindIDFront, 0x5555aaaa5555aaaa, sha(0x5555aaaa5555aaaa)})
		lone = load(lone.ID)
		got, err := s.duplicates(ctx, rv, lone, lone.Edges.Evidence)
		if err != nil || len(got) != 1 || got[0] != nil {
			t.Fatalf("a lone image: %+v, %v", got, err)
		}
	})
}
