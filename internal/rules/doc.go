// Package rules holds the identity rules that every form, API and decision of
// recoverydesk shares (CONTRACT §3): the username and password policy, the
// certificate checksums (统一社会信用代码, 组织机构代码, 居民身份证), mainland
// mobile numbers and the masking of personal data, the Guangdong region codes,
// and the working-day calendar.
//
// Everything here is pure: no files, no network, no environment, no clock.
// Data (regions, holidays) is compiled in, and "today" is always a parameter,
// because the application runs on an adjustable clock. Messages meant for
// people are in Simplified Chinese and follow the live system's wording;
// codes meant for programs are snake_case.
package rules
