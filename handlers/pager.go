package handlers

import (
	"net/url"
	"strconv"
	"strings"
)

// pager is a list page's links to its first page and to the next one, each
// "" when there is none; partials/pager renders them. The lists page by a
// cursor ("after"), so there is no page count, only "next" and "back to the
// first page".
type pager struct {
	FirstURL, NextURL string
}

// param is one query parameter of a list's link; links keep the order the
// filters have on the page.
type param struct{ key, value string }

// pageLinks builds the pager of the list at path filtered by params, now
// showing the page after the cursor after, whose next page starts after next.
func pageLinks(path string, params []param, after, next string) pager {
	var p pager
	if after != "" {
		p.FirstURL = listURL(path, params)
	}
	if next != "" {
		p.NextURL = listURL(path, append(params[:len(params):len(params)], param{"after", next}))
	}
	return p
}

// listURL is path with params as its query, empty values left out.
func listURL(path string, params []param) string {
	var q strings.Builder
	for _, p := range params {
		if p.value == "" {
			continue
		}
		if q.Len() == 0 {
			q.WriteByte('?')
		} else {
			q.WriteByte('&')
		}
		q.WriteString(url.QueryEscape(p.key) + "=" + url.QueryEscape(p.value))
	}
	return path + q.String()
}

// cursor is a numeric cursor as a query value, "" for none (0).
func cursor(id int) string {
	if id == 0 {
		return ""
	}
	return strconv.Itoa(id)
}
