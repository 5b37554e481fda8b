// Package photos makes every uploaded image safe to keep and to send to
// devices: it decodes the image (refusing anything that is not one, and
// decompression bombs, before decoding), turns it upright from its EXIF
// orientation, caps its size and re-encodes it as a plain JPEG. Re-encoding
// from pixels is what removes EXIF, GPS and any other metadata: nothing of
// the original file survives but the picture.
package photos

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"

	// Decoders for the formats phones send. HEIC has no pure-Go decoder:
	// devices convert it to JPEG before upload (mobile-contract/PHOTOS.md).
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/webp"

	"github.com/disintegration/imaging"
)

// Limits bound what Sanitize accepts and produces.
type Limits struct {
	MaxBytes  int64 // largest upload read, in bytes
	MaxPixels int64 // largest width×height decoded (decompression-bomb guard)
	MaxSide   int   // longest side of the stored image, in pixels
	Quality   int   // JPEG quality of the stored image
}

// DefaultLimits are Tandem's limits: 10 MiB uploads (the file fields' own
// limit), at most 40 megapixels decoded (a 2024 phone camera is ~12-50 MP),
// stored at most 2048 px on the longest side at JPEG quality 85.
var DefaultLimits = Limits{MaxBytes: 10 << 20, MaxPixels: 40_000_000, MaxSide: 2048, Quality: 85}

// Error is a refusal with a machine-readable code for the device.
type Error struct {
	Code    string // photo_not_image, photo_too_many_pixels, photo_too_large, photo_unreadable
	Message string // for the mobile developer or the worker
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Refusal codes.
const (
	CodeNotImage      = "photo_not_image"
	CodeTooManyPixels = "photo_too_many_pixels"
	CodeTooLarge      = "photo_too_large"
	CodeUnreadable    = "photo_unreadable"
)

// Info describes a sanitised photo.
type Info struct {
	Width, Height int   // of the stored JPEG
	Bytes         int64 // size of the stored JPEG
	SourceFormat  string
}

// Sanitize reads an uploaded image from r and returns it as a clean JPEG.
func Sanitize(r io.Reader, lim Limits) ([]byte, Info, error) {
	raw, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, Info{}, &Error{CodeUnreadable, "the upload could not be read: " + err.Error()}
	}
	if int64(len(raw)) > lim.MaxBytes {
		return nil, Info{}, &Error{CodeTooLarge, fmt.Sprintf("photos are limited to %d MiB", lim.MaxBytes>>20)}
	}
	return SanitizeBytes(raw, lim)
}

// SanitizeBytes is Sanitize for an upload already in memory.
func SanitizeBytes(raw []byte, lim Limits) ([]byte, Info, error) {
	if int64(len(raw)) > lim.MaxBytes {
		return nil, Info{}, &Error{CodeTooLarge, fmt.Sprintf("photos are limited to %d MiB", lim.MaxBytes>>20)}
	}
	// Read only the header first: a tiny file can declare a 100,000 ×
	// 100,000 image whose decoding would take 40 GB of memory.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, Info{}, &Error{CodeNotImage, "the upload is not a JPEG, PNG, WebP or GIF image (convert HEIC to JPEG on the device)"}
		}
		return nil, Info{}, &Error{CodeUnreadable, "the image header is damaged: " + err.Error()}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > lim.MaxPixels {
		return nil, Info{}, &Error{CodeTooManyPixels, fmt.Sprintf("the image declares %d×%d pixels; at most %d megapixels are accepted",
			cfg.Width, cfg.Height, lim.MaxPixels/1_000_000)}
	}
	img, err := imaging.Decode(bytes.NewReader(raw), imaging.AutoOrientation(true))
	if err != nil {
		return nil, Info{}, &Error{CodeUnreadable, "the image could not be decoded: " + err.Error()}
	}
	b := img.Bounds()
	if b.Dx() > lim.MaxSide || b.Dy() > lim.MaxSide {
		img = imaging.Fit(img, lim.MaxSide, lim.MaxSide, imaging.Lanczos)
	}
	var out bytes.Buffer
	if err := imaging.Encode(&out, img, imaging.JPEG, imaging.JPEGQuality(lim.Quality)); err != nil {
		return nil, Info{}, fmt.Errorf("photos: encode: %w", err)
	}
	b = img.Bounds()
	return out.Bytes(), Info{Width: b.Dx(), Height: b.Dy(), Bytes: int64(out.Len()), SourceFormat: format}, nil
}
