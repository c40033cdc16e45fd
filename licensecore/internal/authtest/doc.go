// Package authtest runs the reference authority on a loopback port for
// tests of other packages, with one organization, one user and one
// licensed device, and plays the person who approves a user code on its
// pages. Test code only.
package authtest
