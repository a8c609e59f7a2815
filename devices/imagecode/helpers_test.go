package imagecode

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"testing"
)

// The pictures in these tests start from Debian's qrencode, an encoder
// that is not ours, and are then turned, scaled, soiled and framed here
// the way a camera or a screenshot would.

const setupHint = "`make test` installs it (the project's setup installs the Debian packages qrencode and zbar-tools)"

// qrencode returns the PNG qrencode makes of text with the given options.
func qrencode(t testing.TB, text string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("qrencode")
	if err != nil {
		t.Fatalf("qrencode not found: %s", setupHint)
	}
	args = append([]string{"-t", "PNG", "-o", "-"}, args...)
	out, err := exec.Command(bin, append(args, text)...).Output()
	if err != nil {
		t.Fatalf("qrencode %v: %v", args, err)
	}
	return out
}

// qrImage is qrencode's picture of text as gray pixels, module px wide.
func qrImage(t testing.TB, text string, module int) *image.Gray {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(qrencode(t, text, "-s", strconv.Itoa(module), "-m", "4", "-l", "M")))
	if err != nil {
		t.Fatalf("qrencode's PNG: %v", err)
	}
	return toGray(img)
}

func toGray(img image.Image) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g
}

// sample reads g at (x, y) with bilinear interpolation, white outside.
func sample(g *image.Gray, x, y float64) uint8 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	at := func(xi, yi int) float64 {
		if xi < 0 || yi < 0 || xi >= g.Rect.Dx() || yi >= g.Rect.Dy() {
			return 255
		}
		return float64(g.Pix[yi*g.Stride+xi])
	}
	ix, iy := int(x0), int(y0)
	v := at(ix, iy)*(1-fx)*(1-fy) + at(ix+1, iy)*fx*(1-fy) + at(ix, iy+1)*(1-fx)*fy + at(ix+1, iy+1)*fx*fy
	return uint8(math.Round(v))
}

// rotate turns g by deg degrees (counter-clockwise) on a canvas large
// enough for the whole of it.
func rotate(g *image.Gray, deg float64) *image.Gray {
	w, h := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	s, c := math.Sincos(deg * math.Pi / 180)
	nw := int(math.Ceil(math.Abs(w*c) + math.Abs(h*s)))
	nh := int(math.Ceil(math.Abs(w*s) + math.Abs(h*c)))
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	for y := range nh {
		for x := range nw {
			dx, dy := float64(x)-float64(nw)/2, float64(y)-float64(nh)/2
			sx := c*dx - s*dy + w/2
			sy := s*dx + c*dy + h/2
			out.Pix[y*out.Stride+x] = sample(g, sx, sy)
		}
	}
	return out
}

// rotate90 turns g a quarter clockwise, exactly.
func rotate90(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			out.Pix[x*out.Stride+(h-1-y)] = g.Pix[y*g.Stride+x]
		}
	}
	return out
}

// scale resizes g by f with bilinear interpolation.
func scale(g *image.Gray, f float64) *image.Gray {
	nw, nh := int(float64(g.Rect.Dx())*f), int(float64(g.Rect.Dy())*f)
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	for y := range nh {
		for x := range nw {
			out.Pix[y*out.Stride+x] = sample(g, (float64(x)+0.5)/f-0.5, (float64(y)+0.5)/f-0.5)
		}
	}
	return out
}

// noisy adds uniform noise of up to ±amp to every pixel, and flips a
// fraction of them to black or white (sensor dropouts).
func noisy(g *image.Gray, amp int, flip float64, seed uint64) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 1))
	out := image.NewGray(g.Rect)
	for i, p := range g.Pix {
		v := int(p) + r.IntN(2*amp+1) - amp
		if r.Float64() < flip {
			v = 255 * r.IntN(2)
		}
		out.Pix[i] = uint8(max(0, min(255, v)))
	}
	return out
}

// blur averages each pixel with its neighbours within radius, passes times
// (an out-of-focus camera).
func blur(g *image.Gray, radius, passes int) *image.Gray {
	cur := g
	for range passes {
		w, h := cur.Rect.Dx(), cur.Rect.Dy()
		out := image.NewGray(cur.Rect)
		for y := range h {
			for x := range w {
				sum, n := 0, 0
				for yy := max(0, y-radius); yy <= min(h-1, y+radius); yy++ {
					for xx := max(0, x-radius); xx <= min(w-1, x+radius); xx++ {
						sum += int(cur.Pix[yy*cur.Stride+xx])
						n++
					}
				}
				out.Pix[y*out.Stride+x] = uint8(sum / n)
			}
		}
		cur = out
	}
	return cur
}

// background is a camera's view of a kiosk counter with nothing to read:
// uneven light, objects of every shade, and sensor noise.
func background(w, h int, seed uint64) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 2))
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g.Pix[y*g.Stride+x] = uint8(90 + 100*x/w + 40*y/h)
		}
	}
	for range 60 {
		x, y := r.IntN(w), r.IntN(h)
		rect := image.Rect(x, y, x+10+r.IntN(w/4), y+10+r.IntN(h/4))
		draw.Draw(g, rect, image.NewUniform(color.Gray{Y: uint8(r.IntN(256))}), image.Point{}, draw.Src)
	}
	// Text-like strokes: short dark bars, the kind of detail a QR finder
	// search trips over.
	for range 400 {
		x, y := r.IntN(w), r.IntN(h)
		rect := image.Rect(x, y, x+1+r.IntN(6), y+3+r.IntN(10))
		draw.Draw(g, rect, image.NewUniform(color.Gray{Y: uint8(r.IntN(60))}), image.Point{}, draw.Src)
	}
	return noisy(g, 8, 0, seed)
}

// frame puts code on a w × h background at (x, y).
func frame(code *image.Gray, w, h, x, y int, seed uint64) *image.Gray {
	g := background(w, h, seed)
	draw.Draw(g, code.Rect.Add(image.Pt(x, y)), code, image.Point{}, draw.Src)
	return g
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
