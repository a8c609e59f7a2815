package imagecode

import (
	"bytes"
	"image"
	"image/color"
)

// gray is a luminance plane: one byte per pixel, 0 black to 255 white,
// rows of w bytes.
type gray struct {
	pix  []byte
	w, h int
}

// luminance converts img to a gray plane with the weights gozxing uses,
// (R + 2G + B) / 4, transparent pixels over white. The common decoder
// outputs get a loop of their own: image.At costs an interface call and an
// allocation per pixel, more than the decode itself on a camera frame.
func luminance(img image.Image) gray {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	g := gray{pix: make([]byte, w*h), w: w, h: h}
	switch m := img.(type) {
	case *image.YCbCr: // JPEG: Y is the luminance already
		for y := range h {
			off := m.YOffset(r.Min.X, r.Min.Y+y)
			copy(g.pix[y*w:(y+1)*w], m.Y[off:off+w])
		}
	case *image.Gray:
		for y := range h {
			off := m.PixOffset(r.Min.X, r.Min.Y+y)
			copy(g.pix[y*w:(y+1)*w], m.Pix[off:off+w])
		}
	case *image.Paletted: // qrencode's PNGs, GIF-like screenshots
		var table [256]byte
		for i, c := range m.Palette {
			table[i] = lumOf(c)
		}
		for y := range h {
			off := m.PixOffset(r.Min.X, r.Min.Y+y)
			for x, p := range m.Pix[off : off+w] {
				g.pix[y*w+x] = table[p]
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				l := (uint32(p[0]) + 2*uint32(p[1]) + uint32(p[2])) / 4
				a := uint32(p[3])
				g.pix[y*w+x] = byte((l*a + 255*(255-a)) / 255)
			}
		}
	case *image.RGBA: // premultiplied: over white is adding the transparency
		for y := range h {
			row := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				l := (uint32(p[0]) + 2*uint32(p[1]) + uint32(p[2])) / 4
				g.pix[y*w+x] = byte(l + 255 - uint32(p[3]))
			}
		}
	default:
		for y := range h {
			for x := range w {
				g.pix[y*w+x] = lumOf(img.At(r.Min.X+x, r.Min.Y+y))
			}
		}
	}
	return g
}

func lumOf(c color.Color) byte {
	r, gr, b, a := c.RGBA() // premultiplied, 16 bits
	l := (r + 2*gr + b) / 4
	return byte((l + 0xffff - a) >> 8)
}

// half is g at half the width and height, each pixel the mean of four.
func (g gray) half() gray {
	w, h := g.w/2, g.h/2
	out := gray{pix: make([]byte, w*h), w: w, h: h}
	for y := range h {
		a := g.pix[2*y*g.w:]
		b := g.pix[(2*y+1)*g.w:]
		o := out.pix[y*w : (y+1)*w]
		for x := range o {
			s := uint(a[2*x]) + uint(a[2*x+1]) + uint(b[2*x]) + uint(b[2*x+1])
			o[x] = byte((s + 2) / 4)
		}
	}
	return out
}

// median is g with each pixel replaced by the median of its 3 × 3
// neighbourhood (edges kept): it removes isolated black and white pixels
// (dust on the lens, dead sensor pixels, a scratched screen) that break
// the run lengths the finder search measures, while keeping module edges.
func (g gray) median() gray {
	out := gray{pix: bytes.Clone(g.pix), w: g.w, h: g.h}
	var v [9]byte
	for y := 1; y < g.h-1; y++ {
		up, mid, down := g.pix[(y-1)*g.w:], g.pix[y*g.w:], g.pix[(y+1)*g.w:]
		o := out.pix[y*g.w:]
		for x := 1; x < g.w-1; x++ {
			v = [9]byte{up[x-1], up[x], up[x+1], mid[x-1], mid[x], mid[x+1], down[x-1], down[x], down[x+1]}
			o[x] = median9(&v)
		}
	}
	return out
}

// median9 is the median of nine values by the classic 19-exchange
// network (each exchange puts the smaller of two first).
func median9(p *[9]byte) byte {
	p0, p1, p2, p3, p4, p5, p6, p7, p8 := int(p[0]), int(p[1]), int(p[2]), int(p[3]), int(p[4]), int(p[5]), int(p[6]), int(p[7]), int(p[8])
	p1, p2 = min(p1, p2), max(p1, p2)
	p4, p5 = min(p4, p5), max(p4, p5)
	p7, p8 = min(p7, p8), max(p7, p8)
	p0, p1 = min(p0, p1), max(p0, p1)
	p3, p4 = min(p3, p4), max(p3, p4)
	p6, p7 = min(p6, p7), max(p6, p7)
	p1, p2 = min(p1, p2), max(p1, p2)
	p4, p5 = min(p4, p5), max(p4, p5)
	p7, p8 = min(p7, p8), max(p7, p8)
	p0, p3 = min(p0, p3), max(p0, p3)
	p5, p8 = min(p5, p8), max(p5, p8)
	p4, p7 = min(p4, p7), max(p4, p7)
	p3, p6 = min(p3, p6), max(p3, p6)
	p1, p4 = min(p1, p4), max(p1, p4)
	p2, p5 = min(p2, p5), max(p2, p5)
	p4, p7 = min(p4, p7), max(p4, p7)
	p4, p2 = min(p4, p2), max(p4, p2)
	p6, p4 = min(p6, p4), max(p6, p4)
	p4, p2 = min(p4, p2), max(p4, p2)
	_, _, _, _, _, _, _, _ = p0, p1, p2, p3, p5, p6, p7, p8 // placed on the way; only the middle is needed
	return byte(p4)
}

// rotate returns g turned a quarter clockwise.
func (g gray) rotate() gray {
	r := gray{w: g.h, h: g.w, pix: make([]byte, len(g.pix))}
	for y := 0; y < g.h; y++ {
		for x := 0; x < g.w; x++ {
			r.pix[x*r.w+(g.h-1-y)] = g.pix[y*g.w+x]
		}
	}
	return r
}
