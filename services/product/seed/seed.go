// Package seed loads a demo catalog: a few hundred realistic products
// (apparel, electronics, home, outdoors, games) with brands, colours,
// sizes, materials, prices with cents and stock, so that a newcomer has
// something to browse. The catalog is the same on every run.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/travluk/ecom/services/product/internal/mongodb"
	"github.com/travluk/ecom/services/product/internal/product"
)

// DefaultCount is how many products Load inserts by default.
const DefaultCount = 300

// Load inserts the demo catalog of n products into db's products
// collection, creating the indexes first, unless the collection already
// holds any product: then it changes nothing and returns 0. So it is safe
// to run again, and never mixes demo products into a real catalog. It
// returns how many products it inserted.
func Load(ctx context.Context, db *mongo.Database, n int) (int, error) {
	repo := mongodb.NewProducts(db)
	if err := repo.EnsureIndexes(ctx); err != nil {
		return 0, err
	}
	existing, err := repo.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("seed: count products: %w", err)
	}
	if existing > 0 {
		return 0, nil
	}
	products, err := Catalog(n, time.Now())
	if err != nil {
		return 0, err
	}
	for i, p := range products {
		if err := repo.Create(ctx, p); err != nil {
			return i, fmt.Errorf("seed: insert %q: %w", p.Name, err)
		}
	}
	return len(products), nil
}

type kind struct {
	category string
	names    []string
	minCents int
	maxCents int
	// attrs adds the attributes typical of the kind.
	attrs func(r *rand.Rand, a product.Attributes)
}

var (
	colours    = []string{"black", "white", "navy", "forest green", "sand", "charcoal", "burgundy", "sky blue", "ochre", "slate"}
	sizes      = []string{"XS", "S", "M", "L", "XL", "XXL"}
	adjectives = []string{"Classic", "Everyday", "Pro", "Lite", "Heritage", "Urban", "Alpine", "Coastal", "Studio", "Trail"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func kinds() []kind {
	apparel := func(r *rand.Rand, a product.Attributes) {
		a["size"] = pick(r, sizes)
		a["material"] = pick(r, []string{"organic cotton", "merino wool", "recycled polyester", "linen", "denim"})
	}
	shoes := func(r *rand.Rand, a product.Attributes) {
		a["size"] = int64(36 + r.IntN(12))
		a["material"] = pick(r, []string{"leather", "canvas", "mesh", "suede"})
	}
	electronics := func(r *rand.Rand, a product.Attributes) {
		a["warrantyMonths"] = int64(pick(r, []int{12, 24, 36}))
		a["wireless"] = r.IntN(3) > 0
	}
	kitchen := func(r *rand.Rand, a product.Attributes) {
		a["material"] = pick(r, []string{"stoneware", "stainless steel", "cast iron", "bamboo", "glass"})
		a["dishwasherSafe"] = r.IntN(2) == 0
	}
	outdoors := func(r *rand.Rand, a product.Attributes) {
		a["weightKg"] = float64(2+r.IntN(300)) / 100
		a["waterproof"] = r.IntN(2) == 0
	}
	games := func(r *rand.Rand, a product.Attributes) {
		a["minAge"] = int64(pick(r, []int{3, 6, 8, 10, 12, 14}))
		a["players"] = pick(r, []string{"1", "2", "2-4", "2-6", "3-8"})
	}
	return []kind{
		{"apparel", []string{"T-Shirt", "Hoodie", "Rain Jacket", "Chinos", "Wool Sweater", "Puffer Vest"}, 1499, 18900, apparel},
		{"footwear", []string{"Sneakers", "Hiking Boots", "Loafers", "Trail Runners"}, 4999, 21900, shoes},
		{"electronics", []string{"Wireless Headphones", "Mechanical Keyboard", "USB-C Charger", "Bluetooth Speaker", "Smartwatch", "Webcam"}, 1999, 34900, electronics},
		{"home & kitchen", []string{"Coffee Mug", "Chef's Knife", "Skillet", "Desk Lamp", "Linen Throw", "Teapot"}, 899, 12900, kitchen},
		{"outdoors", []string{"Hiking Backpack", "Two-Person Tent", "Water Bottle", "Trekking Poles", "Sleeping Bag", "Headlamp"}, 1299, 39900, outdoors},
		{"toys & games", []string{"Jigsaw Puzzle", "Board Game", "Card Game", "Building Set"}, 999, 8900, games},
	}
}

var brands = []string{"Nordwind", "Kestrel & Co", "Lumen", "Fjellstad", "Harbor Lane", "Oakhaven", "Voltra", "Pinecrest", "Marlow", "Tidewater", "Brightforge", "Atlas Goods"}

// Catalog returns the demo catalog of n products, created one after
// another up to now (newest last), with version 1 and no ids. It is
// deterministic: the same n gives the same products.
func Catalog(n int, now time.Time) ([]*product.Product, error) {
	r := rand.New(rand.NewPCG(2026, 11)) // fixed: the demo is the same everywhere
	ks := kinds()
	seen := map[string]bool{}
	out := make([]*product.Product, 0, n)
	for i := range n {
		k := ks[i%len(ks)]
		typ := pick(r, k.names)
		brand := pick(r, brands)
		colour := pick(r, colours)
		name := fmt.Sprintf("%s %s %s", brand, pick(r, adjectives), typ)
		if seen[name] {
			name += " – " + colour
		}
		for j := 2; seen[name]; j++ {
			name = fmt.Sprintf("%s %s %s %d", brand, pick(r, adjectives), typ, j)
		}
		seen[name] = true

		cents := k.minCents + r.IntN(k.maxCents-k.minCents)
		cents = cents/100*100 + pick(r, []int{99, 99, 95, 49, 0}) // prices end like shop prices
		stock := 0
		if r.IntN(10) > 0 { // about one in ten is sold out
			stock = 1 + r.IntN(250)
		}
		attrs := product.Attributes{"category": k.category, "brand": brand, "colour": colour}
		k.attrs(r, attrs)
		d := product.Draft{
			Name: name,
			Description: fmt.Sprintf("The %s %s by %s, in %s. Part of the %s range; designed to last and easy to care for.",
				typ, k.category, brand, colour, attrs["category"]),
			Price:      product.Decimal(product.Money(cents).String()),
			Stock:      product.Decimal(fmt.Sprint(stock)),
			Attributes: attrs,
		}
		created := now.Add(-time.Duration(n-i) * 37 * time.Minute)
		p, err := product.New(d, created)
		if err != nil {
			return nil, fmt.Errorf("seed: product %d is invalid: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}
