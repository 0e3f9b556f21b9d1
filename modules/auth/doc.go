// Package auth verifies JWT bearer tokens and tells every handler who is calling,
// for which tenant, allowed to do what.
//
// Keys come from Config: an HS secret (HS256/384/512), a PEM public key
// (RS*/PS*, ES* or EdDSA) and/or a JWKS file whose keys are chosen by the
// token's kid (reloaded on SIGHUP). A token's algorithm must fit the key it
// selects, so an HS256 token is refused where only an RSA key is configured,
// and "alg": "none" never verifies. exp is required; exp, nbf and iat are
// checked with Config.Leeway; iss and aud when configured.
//
// Claims: sub, tenant_id, permissions (such as "jobs.read") and roles; the
// "admin" role holds every permission of its own tenant, never another's
// (Caller.CanAccessTenant). A tenant_id must be usable in Redis keys
// (keyspace.ValidateID: 1–128 bytes of letters, digits and . _ - @ + =): a
// token with any other is refused with 401 naming tenant_id, and Mint refuses
// to sign one. Caller.ValidUntil is exp plus the leeway: the instant from
// which the same token is refused, and when streams it opened end. Claim
// names are read exactly: a claim set with a member twice, or with a member
// that differs from one of those claims (or iss, aud, exp, nbf, iat, jti) only
// in case, is refused, so that every verifier of a token reads the same tenant
// and permissions; exp, nbf and iat must be JSON numbers within the years
// 0001 to 9999 (beyond, the JWT library wrapped an nbf of 1e19 into the past).
//
// Use on routes:
//
//	r.GET("/api/v1/jobs", authn.Require(auth.PermJobsRead), handler)
//	r.GET("/api/v1/realtime/events", authn.RequireStream(auth.PermRealtimeRead), stream)
//	caller := auth.CallerOf(c) // or auth.FromContext(ctx)
//
// 401 JSON for a missing or invalid token (the reason is logged at debug with
// the request ID, never sent, except which claim is wrong for a genuine token
// with an unusable tenant_id: "field": "tenant_id"); 403 JSON for a missing tenant or permission;
// 400 naming Authorization when that header is given twice with different values.
// RequireStream also accepts ?access_token= on GET, for browsers' EventSource,
// which cannot set headers (the header wins when both are sent; the parameter
// follows the header's syntax and size rules, and twice is 400 naming it):
// that puts the token in URLs, so the access log redacts it and proxies in
// front must too.
package auth
