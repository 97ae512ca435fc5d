// Package yamltree owns the YAML machinery under package manifest, both
// ways, built for speed and held byte for byte to the libraries it stands
// in for:
//
//   - Arena.Parse reads the YAML manifests are written in into the
//     yaml.Node tree yaml.v3 would build, in pooled arenas, and declines
//     everything else, which the caller reads with yaml.v3;
//   - Encoder writes typed objects as the YAML stream yaml.v3 would write
//     for their encoding/json value, through a flat JSON tree built by
//     reflection, and declines values it does not write the same way.
//
// Declining is part of the contract: whenever these answer, they answer
// what yaml.v3 and encoding/json would, which tests and fuzz targets
// (FuzzYAMLParser, FuzzYAMLEmitter) check against the real libraries. The
// pools (arenas, encoders) and the per-type reflection cache are
// process-wide state kept here, behind GetArena, GetEncoder and Release,
// so that package manifest has none; nothing a caller keeps may point
// into pooled memory after Release.
package yamltree
