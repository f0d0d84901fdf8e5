package rules

// CompleteIDNumber appends the GB 11643 check character to a 17-digit body.
// Demo data and tests build valid numbers with it instead of re-implementing
// the checksum; it does not validate the body.
func CompleteIDNumber(body17 string) string {
	if len(body17) != 17 || !allDigits(body17) {
		return body17
	}
	return body17 + string(idCheckChar(body17))
}

// CompleteUSCC appends the GB 32100 check character to a 17-character body
// of the credit-code alphabet. Like CompleteIDNumber it serves demo data and
// tests; it does not validate the body.
func CompleteUSCC(body17 string) string {
	if len(body17) != 17 {
		return body17
	}
	for i := 0; i < len(body17); i++ {
		if usccValue[body17[i]] < 0 {
			return body17
		}
	}
	return body17 + string(usccCheckChar(body17))
}
