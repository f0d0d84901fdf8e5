package accounts

import (
	"context"

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
