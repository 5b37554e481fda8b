package photos_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/tandem-outreach/tandem/internal/photos"
	"github.com/tandem-outreach/tandem/internal/photos/phototest"
)

func TestSanitizeStripsEXIFAndGPSAndOrients(t *testing.T) {
	// 40×20 landscape pixels, EXIF orientation 6: the camera was turned, so
	// the upright picture is 20×40.
	src := phototest.JPEGWithEXIF(t, 40, 20, 6)
	if !bytes.Contains(src, []byte("Exif\x00\x00")) || !bytes.Contains(src, phototest.GPSMarker) {
		t.Fatal("test image should carry an EXIF block with GPS coordinates")
	}
	out, info, err := photos.SanitizeBytes(src, photos.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if phototest.HasAPP1(out) || bytes.Contains(out, []byte("Exif")) || bytes.Contains(out, phototest.GPSMarker) {
		t.Fatal("sanitised photo still carries EXIF or GPS data")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
	if err != nil || format != "jpeg" {
		t.Fatalf("output is not a JPEG: %v %s", err, format)
	}
	if cfg.Width != 20 || cfg.Height != 40 || info.Width != 20 || info.Height != 40 {
		t.Fatalf("orientation not applied: got %dx%d (info %dx%d), want 20x40", cfg.Width, cfg.Height, info.Width, info.Height)
	}
}

func TestSanitizeCapsSizeAndReencodesPNG(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3000, 1500))
	for x := 0; x < 3000; x += 7 {
		img.Set(x, x/2, color.RGBA{200, 10, 10, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	out, info, err := photos.SanitizeBytes(buf.Bytes(), photos.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, _ := image.DecodeConfig(bytes.NewReader(out))
	if format != "jpeg" || cfg.Width != 2048 || cfg.Height != 1024 || info.SourceFormat != "png" {
		t.Fatalf("want a 2048x1024 JPEG from a PNG, got %s %dx%d from %s", format, cfg.Width, cfg.Height, info.SourceFormat)
	}
}

func TestSanitizeRefusals(t *testing.T) {
	small := photos.DefaultLimits
	small.MaxBytes = 1 << 20
	cases := []struct {
		name string
		data []byte
		lim  photos.Limits
		code string
	}{
		{"text file", []byte("this is a note, not a photo"), photos.DefaultLimits, photos.CodeNotImage},
		{"pdf", []byte("%PDF-1.7\n1 0 obj\n"), photos.DefaultLimits, photos.CodeNotImage},
		{"decompression bomb", phototest.PNGBomb(t, 100000, 100000), photos.DefaultLimits, photos.CodeTooManyPixels},
		{"too many bytes", bytes.Repeat([]byte{0xff}, 1<<20+1), small, photos.CodeTooLarge},
		{"truncated jpeg", phototest.JPEGWithEXIF(t, 40, 20, 1)[:300], photos.DefaultLimits, photos.CodeUnreadable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := photos.Sanitize(bytes.NewReader(c.data), c.lim)
			var pe *photos.Error
			if !errors.As(err, &pe) || pe.Code != c.code {
				t.Fatalf("want refusal %s, got %v", c.code, err)
			}
		})
	}
}

func BenchmarkSanitize12MP(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, nil)
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		if _, _, err := photos.SanitizeBytes(raw, photos.DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}
