// Package bedboard holds the bed board: a static HTML and JavaScript page a
// housing agent uses to keep bed counts current and confirm arrivals. It has
// no build step; Tandem embeds the files and serves them at /bedboard/, and
// the page talks to the agency API (/api/beds/v1) with plain fetch.
package bedboard

import "embed"

// Files is the page, under static/.
//
//go:embed static
var Files embed.FS
