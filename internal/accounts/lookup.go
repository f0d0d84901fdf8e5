package accounts

import (
	"context"
	"time"

	"recoverydesk/ent"
)

// Account returns the account with id, or ErrAccountNotFound. The unit
// registration page uses it to reload the operator it verified in an earlier
// step, and the signed-in page to show the applicant's own account.
func (s *Service) Account(ctx context.Context, id int) (*ent.Account, error) {
	acc, err := s.db.Ent.Account.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, ErrAccountNotFound
	}
	return acc, err
}

// SessionStands reports whether an applicant session that signed in at
// signedIn still stands for acc: a password changed since ends it, because
// whoever changed it may have done so because the old one leaked.
func SessionStands(acc *ent.Account, signedIn time.Time) bool {
	return acc.PasswordChangedAt == nil || !acc.PasswordChangedAt.After(signedIn)
}
