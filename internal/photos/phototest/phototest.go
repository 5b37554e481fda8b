// Package phototest builds test images for Tandem's photo checks: a real
// JPEG carrying an EXIF block with an orientation and GPS coordinates
// (written byte by byte, as a phone camera would), and a PNG that declares a
// huge size (a decompression bomb). It is used by tests only.
package phototest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// GPSMarker is a byte string inside the GPS block of JPEGWithEXIF (the
// GPSMapDatum value); if it is found in an output, GPS data survived.
var GPSMarker = []byte("TANDEMGPS84")

// JPEGWithEXIF returns a w×h JPEG whose APP1 segment holds EXIF IFD0 with
// the given Orientation and a GPS IFD (latitude 40°26'46"N, longitude
// 79°58'56"W and GPSMarker as map datum).
func JPEGWithEXIF(t testing.TB, w, h int, orientation uint16) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 6), 128, 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	app1 := exifSegment(orientation)
	raw := enc.Bytes()
	out := append([]byte{}, raw[:2]...) // SOI
	out = append(out, app1...)
	return append(out, raw[2:]...)
}

// exifSegment builds FFE1 <len> "Exif\0\0" <big-endian TIFF>.
func exifSegment(orientation uint16) []byte {
	be := binary.BigEndian
	var tiff bytes.Buffer
	tiff.WriteString("MM")
	_ = binary.Write(&tiff, be, uint16(42))
	_ = binary.Write(&tiff, be, uint32(8)) // IFD0 at offset 8

	// IFD0: 2 entries (Orientation, GPSInfo pointer), next IFD 0.
	const ifd0Size = 2 + 2*12 + 4
	gpsOffset := uint32(8 + ifd0Size)
	entry := func(tag, typ uint16, count, value uint32) {
		_ = binary.Write(&tiff, be, tag)
		_ = binary.Write(&tiff, be, typ)
		_ = binary.Write(&tiff, be, count)
		_ = binary.Write(&tiff, be, value)
	}
	_ = binary.Write(&tiff, be, uint16(2))
	entry(0x0112, 3, 1, uint32(orientation)<<16) // SHORT, left-justified
	entry(0x8825, 4, 1, gpsOffset)               // LONG pointer to GPS IFD
	_ = binary.Write(&tiff, be, uint32(0))

	// GPS IFD: LatitudeRef, Latitude, LongitudeRef, Longitude, MapDatum.
	const gpsEntries = 5
	dataOffset := gpsOffset + 2 + gpsEntries*12 + 4
	latOff := dataOffset
	lonOff := latOff + 24
	datumOff := lonOff + 24
	_ = binary.Write(&tiff, be, uint16(gpsEntries))
	entry(0x0001, 2, 2, uint32('N')<<24)
	entry(0x0002, 5, 3, latOff)
	entry(0x0003, 2, 2, uint32('W')<<24)
	entry(0x0004, 5, 3, lonOff)
	entry(0x0012, 2, uint32(len(GPSMarker)+1), datumOff)
	_ = binary.Write(&tiff, be, uint32(0))
	for _, r := range [][2]uint32{{40, 1}, {26, 1}, {46, 1}, {79, 1}, {58, 1}, {56, 1}} {
		_ = binary.Write(&tiff, be, r[0])
		_ = binary.Write(&tiff, be, r[1])
	}
	tiff.Write(GPSMarker)
	tiff.WriteByte(0)

	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	be.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// HasAPP1 reports whether a JPEG has an APP1 (EXIF/XMP) segment before its
// image data.
func HasAPP1(jpg []byte) bool {
	i := 2
	for i+4 <= len(jpg) && jpg[i] == 0xFF {
		marker := jpg[i+1]
		if marker == 0xDA { // start of scan: no more metadata segments
			return false
		}
		if marker == 0xE1 {
			return true
		}
		i += 2 + int(binary.BigEndian.Uint16(jpg[i+2:]))
	}
	return false
}

// PNGBomb returns a tiny PNG whose header declares w×h pixels.
func PNGBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
