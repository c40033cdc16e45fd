//go:build !(windows && wine)

package app

// underWine: see wine_test.go.
const underWine = false
