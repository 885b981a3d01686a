//! Starter data: the `demo` store made on first run, and the catalog that
//! `whale stores create --seed` copies into a new store.
//!
//! Everything except row ids comes from an RNG with a fixed seed per mode, so
//! every install sees the same shop — the same stock levels, order history and
//! reviews. That keeps docs, examples and bug reports reproducible, and lets
//! live and test differ a little (different seeds) without either drifting
//! between runs. Ids stay random because they must be unique across stores.
//!
//! Money is integer cents throughout; the order arithmetic here is the same
//! the checkout applies (percentage coupons floor, tax rounds half up).

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{DbError, Mode, new_id, now_ms};

const DEMO_STORE_ID: &str = "demo";
const DEMO_STORE_NAME: &str = "Whale Demo Outfitters";
const DEMO_SUPPORT_EMAIL: &str = "help@whale-demo.example";

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

const LOW_STOCK_THRESHOLD: i64 = 5;
const FIRST_ORDER_NUMBER: i64 = 1001;
const ORDER_COUNT: usize = 100;
const ORDER_WINDOW_DAYS: i64 = 90;
const REVIEW_COUNT: usize = 60;
const REVIEW_WINDOW_DAYS: i64 = 120;
/// Variants kept under the threshold at the default location, so low-stock
/// reports have something to show on a fresh install.
const LOW_STOCK_VARIANTS: usize = 6;
const FREE_SHIPPING_FROM_CENTS: i64 = 7_500;
const FLAT_SHIPPING_CENTS: i64 = 795;

/// Creates the `demo` store (live and test data) on first run; does nothing when it exists.
pub fn ensure_demo(conn: &mut Connection) -> Result<(), DbError> {
    // IMMEDIATE takes the write lock before the existence check: when several
    // processes start at once the others wait here, then find the row and skip.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists = tx
        .query_row("SELECT 1 FROM stores WHERE id = ?1", [DEMO_STORE_ID], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        let now = now_ms();
        create_store_rows(
            &tx,
            DEMO_STORE_ID,
            DEMO_STORE_NAME,
            "USD",
            "America/New_York",
            now,
        )?;
        // Only the demo gets a support address; a user's own store starts
        // without one rather than with ours.
        tx.execute(
            "UPDATE store_settings SET support_email = ?2 WHERE store_id = ?1",
            params![DEMO_STORE_ID, DEMO_SUPPORT_EMAIL],
        )?;
        seed_mode(&tx, DEMO_STORE_ID, Mode::Live, now)?;
        seed_mode(&tx, DEMO_STORE_ID, Mode::Test, now)?;
    }
    tx.commit()?;
    Ok(())
}

/// Inserts the stores row and the store_settings rows for both modes (no catalog data).
pub fn create_store_rows(
    tx: &Transaction<'_>,
    store_id: &str,
    name: &str,
    currency: &str,
    timezone: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO stores (id, name, currency, timezone, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![store_id, name, currency, timezone, now],
    )?;
    let mut settings = tx.prepare_cached(
        "INSERT INTO store_settings
             (store_id, mode, name, currency, timezone, low_stock_threshold,
              order_number_next, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for mode in [Mode::Live, Mode::Test] {
        settings.execute(params![
            store_id,
            mode.as_str(),
            name,
            currency,
            timezone,
            LOW_STOCK_THRESHOLD,
            FIRST_ORDER_NUMBER,
            now
        ])?;
    }
    Ok(())
}

/// Seeds a store's catalog data for one mode (used for demo and for `whale stores create --seed`).
pub fn seed_mode(tx: &Transaction<'_>, store_id: &str, mode: Mode, now: i64) -> rusqlite::Result<()> {
    let mut rng = StdRng::seed_from_u64(match mode {
        Mode::Live => 0x5EED_0001,
        Mode::Test => 0x5EED_0002,
    });
    // Orders carry the store's own currency, so a seeded EUR store does not
    // start with a USD history.
    let currency = tx
        .query_row("SELECT currency FROM stores WHERE id = ?1", [store_id], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or_else(|| "USD".to_owned());
    let ctx = Ctx {
        store: store_id,
        mode: mode.as_str(),
        currency,
        now,
    };

    let locations = insert_locations(tx, &ctx)?;
    let catalog = insert_catalog(tx, &mut rng, &ctx)?;
    insert_inventory(tx, &mut rng, &ctx, &locations, &catalog)?;
    let customers = insert_customers(tx, &mut rng, &ctx)?;
    insert_tax_rates(tx, &ctx)?;
    let mut coupons = insert_coupons(tx, &ctx)?;
    insert_orders(tx, &mut rng, &ctx, &locations, &catalog, &customers, &mut coupons)?;
    // Seeded refunds are of shipped goods (damaged, returned).
    tx.execute(
        "UPDATE orders SET fulfilled_at = updated_at
          WHERE store_id = ?1 AND mode = ?2 AND status IN ('fulfilled', 'refunded', 'partially_refunded')",
        params![ctx.store, ctx.mode],
    )?;
    insert_reviews(tx, &mut rng, &ctx, &catalog, &customers)?;
    Ok(())
}

/// Where seeded rows go and the clock they are stamped with.
struct Ctx<'a> {
    store: &'a str,
    mode: &'static str,
    currency: String,
    now: i64,
}

impl Ctx<'_> {
    fn days_ago(&self, days: i64) -> i64 {
        self.now - days * DAY_MS
    }
}

// ---------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------

const ACTIVE: &str = "active";
const DRAFT: &str = "draft";
const ARCHIVED: &str = "archived";

#[derive(Clone, Copy)]
enum Options {
    /// Every option sells at one price: (price, [(title, sku suffix)]).
    Same(i64, &'static [(&'static str, &'static str)]),
    /// Options priced on their own: [(title, sku suffix, price)].
    Priced(&'static [(&'static str, &'static str, i64)]),
}

use Options::{Priced, Same};

impl Options {
    fn variants(self) -> Vec<(&'static str, &'static str, i64)> {
        match self {
            Same(price, list) => list.iter().map(|&(title, sku)| (title, sku, price)).collect(),
            Priced(list) => list.to_vec(),
        }
    }
}

#[derive(Clone, Copy)]
struct ProductSpec {
    /// SKU stem, e.g. `JKT-001`; variants append their suffix.
    code: &'static str,
    title: &'static str,
    status: &'static str,
    options: Options,
    /// "Was" price shown on variants it exceeds.
    compare_at_cents: Option<i64>,
    tags: &'static str,
    description: &'static str,
}

const fn item(
    code: &'static str,
    title: &'static str,
    options: Options,
    tags: &'static str,
    description: &'static str,
) -> ProductSpec {
    ProductSpec {
        code,
        title,
        status: ACTIVE,
        options,
        compare_at_cents: None,
        tags,
        description,
    }
}

impl ProductSpec {
    const fn was(self, compare_at_cents: i64) -> Self {
        ProductSpec {
            compare_at_cents: Some(compare_at_cents),
            ..self
        }
    }
    const fn draft(self) -> Self {
        ProductSpec {
            status: DRAFT,
            ..self
        }
    }
    const fn archived(self) -> Self {
        ProductSpec {
            status: ARCHIVED,
            ..self
        }
    }
}

const SIZES: &[(&str, &str)] = &[("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL")];
const SHOE_SIZES: &[(&str, &str)] = &[("US 8", "8"), ("US 9", "9"), ("US 10", "10"), ("US 11", "11")];
const TWO_SIZES: &[(&str, &str)] = &[("S/M", "SM"), ("L/XL", "LX")];
const ONE_SIZE: &[(&str, &str)] = &[("One Size", "OS")];

#[rustfmt::skip]
const CATALOG: &[(&str, &[ProductSpec])] = &[
    ("jackets", &[
        item("JKT-001", "Ridgeline Storm Shell", Same(24900, SIZES), "waterproof,hiking,shell",
            "A three-layer waterproof shell with pit zips and a helmet-compatible hood.").was(27900),
        item("JKT-002", "Summit Down Parka", Same(37900, SIZES), "down,insulated,winter",
            "An 800-fill responsibly sourced down parka built for sub-freezing belay stances."),
        item("JKT-003", "Trailbreak Wind Shirt", Same(11900, SIZES), "windproof,running,packable",
            "A featherweight wind shell that packs into its own chest pocket."),
        item("JKT-004", "Alpenglow Insulated Jacket", Same(22900, SIZES), "synthetic,insulated,climbing",
            "Synthetic insulation that stays warm when damp, with stretch side panels for reaching the next hold."),
        item("JKT-005", "Coastline Rain Jacket", Same(14999, &[("Navy", "NVY"), ("Ochre", "OCH"), ("Black", "BLK")]),
            "waterproof,rain,everyday",
            "A 2.5-layer rain jacket with a stowable hood for city drizzle and trail squalls."),
        item("JKT-006", "Basecamp Softshell", Same(17900, SIZES), "softshell,stretch,climbing",
            "A brushed-back softshell that breathes on the approach and blocks wind on the ridge.").draft(),
    ]),
    ("fleece", &[
        item("FLC-001", "Cascade Grid Fleece Hoodie", Same(11900, SIZES), "fleece,midlayer,hoodie",
            "A grid-back fleece hoodie that traps heat while venting moisture on steep climbs."),
        item("FLC-002", "Hearth Sherpa Pullover", Same(12900, &[("Oatmeal", "OAT"), ("Forest", "FOR"), ("Charcoal", "CHR")]),
            "fleece,sherpa,casual",
            "A plush high-pile pullover for campfire evenings and cold mornings in the van.").was(14900),
        item("FLC-003", "Switchback Quarter-Zip", Same(8999, SIZES), "fleece,midlayer,quarter-zip",
            "A 100-weight quarter-zip that layers cleanly under any shell."),
        item("FLC-004", "Tundra Fleece Vest", Same(7900, SIZES), "fleece,vest,layering",
            "A warm core layer with zip hand pockets that leaves your arms free to move."),
        item("FLC-005", "Ember Heavyweight Fleece Jacket", Same(15900, SIZES), "fleece,heavyweight,winter",
            "A 300-weight fleece jacket with a windproof chest panel for blustery days."),
        item("FLC-006", "Drift Fleece Joggers", Same(8900, SIZES), "fleece,pants,lounge",
            "Soft fleece joggers with cuffed ankles for camp lounging and rest days.").archived(),
    ]),
    ("base-layers", &[
        item("BSL-001", "Merino 150 Crew", Same(8900, SIZES), "merino,baselayer,odor-resistant",
            "A lightweight merino crew that regulates temperature and resists odor over multi-day trips."),
        item("BSL-002", "Merino 250 Zip Neck", Same(10900, SIZES), "merino,baselayer,winter",
            "A midweight merino zip-neck for ski touring and cold-weather hiking."),
        item("BSL-003", "Merino 200 Bottoms", Same(8900, SIZES), "merino,baselayer,bottoms",
            "Midweight merino leggings with flat seams that won't chafe under a hip belt."),
        item("BSL-004", "Vapor Synthetic Tee", Same(4499, &[("Glacier", "GLC"), ("Sunset", "SUN"), ("Black", "BLK")]),
            "synthetic,quick-dry,running",
            "A quick-drying synthetic tee that wicks sweat on hot-weather climbs."),
        item("BSL-005", "Thermal Grid Hoody", Same(9900, SIZES), "synthetic,baselayer,hoody",
            "A grid-knit base layer hoody with thumb loops and a snug hood for alpine starts."),
        item("BSL-006", "Merino Boxer Brief", Same(3500, SIZES), "merino,underwear,travel",
            "A breathable merino boxer brief that goes days between washes."),
    ]),
    ("footwear", &[
        item("FTW-001", "Granite Peak Hiking Boot", Same(21900, SHOE_SIZES), "boots,waterproof,hiking",
            "A waterproof leather mid-cut boot with a Vibram outsole and a supportive heel cup.").was(23900),
        item("FTW-002", "Switchrock Trail Runner", Same(15900, SHOE_SIZES), "trail-running,shoes,lightweight",
            "A nimble trail runner with a rock plate and 4 mm lugs for technical singletrack."),
        item("FTW-003", "Approach Pro Shoe", Same(16900, SHOE_SIZES), "approach,climbing,shoes",
            "A sticky-rubber approach shoe that scrambles confidently up slabby granite."),
        item("FTW-004", "Camp Slide", Same(5499, SHOE_SIZES), "sandals,camp,recovery",
            "A cushioned camp slide for tired feet at the end of a long day."),
        item("FTW-005", "Winter Trek Insulated Boot", Same(24900, SHOE_SIZES), "boots,insulated,winter",
            "A 400 g insulated winter boot made for snowshoeing and icy trailheads.").draft(),
        item("FTW-006", "Merino Hiking Sock 3-Pack", Same(2999, TWO_SIZES), "socks,merino,hiking",
            "Cushioned merino-blend hiking socks with reinforced heels and toes, three pairs to a pack."),
    ]),
    ("packs", &[
        item("PCK-001", "Traverse 28 Daypack", Same(12900, &[("Slate", "SLT"), ("Rust", "RST"), ("Black", "BLK")]),
            "daypack,hiking,hydration",
            "A 28-liter daypack with a ventilated back panel and a hydration sleeve."),
        item("PCK-002", "Longtrail Backpacking Pack", Priced(&[("55 L", "55", 27900), ("65 L", "65", 29900)]),
            "backpacking,multi-day,adjustable",
            "An adjustable-torso backpacking pack that carries forty-pound loads in comfort."),
        item("PCK-003", "Summit Bid Alpine Pack", Priced(&[("35 L", "35", 18900), ("45 L", "45", 20900)]),
            "alpine,climbing,ice-axe",
            "A stripped-down alpine pack with ice-tool attachments and a removable lid."),
        item("PCK-004", "Canyon Hydration Vest", Same(13900, TWO_SIZES), "running,hydration,vest",
            "A running vest with two soft flasks and stretch pockets for fast-and-light days."),
        item("PCK-005", "Roll-Top Dry Bag", Priced(&[("10 L", "10", 2499), ("20 L", "20", 3499), ("35 L", "35", 4499)]),
            "dry-bag,waterproof,paddling",
            "A roll-top waterproof dry bag that keeps gear dry on the river or in a downpour."),
        item("PCK-006", "Roam Hip Pack", Same(4999, &[("Black", "BLK"), ("Sage", "SGE"), ("Ember", "EMB")]),
            "hip-pack,everyday,lightweight",
            "A compact hip pack for snacks, phone and keys on short hikes and town days."),
    ]),
    ("tents", &[
        item("TNT-001", "Stratus Ultralight Tent", Priced(&[("1-Person", "1P", 34900), ("2-Person", "2P", 42900)]),
            "ultralight,backpacking,semi-freestanding",
            "A semi-freestanding ultralight tent that pitches in minutes and weighs under three pounds.").was(45900),
        item("TNT-002", "Basecamp Family Tent", Priced(&[("4-Person", "4P", 44900), ("6-Person", "6P", 49900)]),
            "car-camping,family,spacious",
            "A near-vertical-wall car-camping tent with room to stand and two wide doors."),
        item("TNT-003", "Ridgeback 2 Backpacking Tent", Same(29900, ONE_SIZE), "backpacking,freestanding,3-season",
            "A freestanding three-season tent with two vestibules for partners who like their space."),
        item("TNT-004", "Stormfront 4-Season Tent", Same(48900, ONE_SIZE), "mountaineering,4-season,expedition",
            "A four-season dome tent with snow flaps that shrugs off high-camp winds."),
        item("TNT-005", "Trail Tarp", Same(8999, &[("Olive", "OLV"), ("Coyote", "COY")]), "tarp,ultralight,shelter",
            "A silnylon tarp that pitches as a shelter, a rain fly or a kitchen canopy."),
        item("TNT-006", "Tent Footprint", Priced(&[("2-Person", "2P", 4900), ("3-Person", "3P", 5900)]),
            "footprint,accessory,groundsheet",
            "A custom-fit groundsheet that protects your tent floor from rocks and roots.").archived(),
    ]),
    ("sleeping", &[
        item("SLP-001", "Alpine 15° Down Sleeping Bag", Priced(&[("Regular", "REG", 32900), ("Long", "LNG", 34900)]),
            "down,sleeping-bag,backpacking",
            "A 15-degree 850-fill down mummy bag with a draft collar for shoulder-season trips.").was(36900),
        item("SLP-002", "Summer 40° Quilt", Priced(&[("Regular", "REG", 19900), ("Long", "LNG", 21900)]),
            "quilt,ultralight,summer",
            "A lightweight synthetic quilt with a sewn footbox and pad straps for warm-weather trips."),
        item("SLP-003", "Cloudrest Insulated Pad", Priced(&[("Regular", "REG", 16900), ("Wide Long", "WL", 19900)]),
            "sleeping-pad,insulated,backpacking",
            "An insulated air pad with an R-value of 4.2 for comfortable three-season sleep."),
        item("SLP-004", "Foam Trail Pad", Same(4999, ONE_SIZE), "sleeping-pad,foam,durable",
            "A closed-cell foam pad that never punctures and doubles as a sit pad."),
        item("SLP-005", "Stuffable Camp Pillow", Same(3999, &[("Grey", "GRY"), ("Teal", "TEL")]), "pillow,camp,packable",
            "A compressible foam pillow that packs down to the size of a grapefruit."),
        item("SLP-006", "Polar -10° Expedition Bag", Priced(&[("Regular", "REG", 47900), ("Long", "LNG", 49900)]),
            "down,expedition,winter",
            "A minus-ten-degree expedition bag with a water-resistant shell for cold, snowy nights.").draft(),
    ]),
    ("accessories", &[
        item("ACC-001", "Alpine Merino Beanie", Same(3499, &[("Black", "BLK"), ("Heather Grey", "GRY"), ("Blaze Orange", "ORG")]),
            "beanie,merino,winter",
            "A double-layer merino beanie that stays warm under a helmet."),
        item("ACC-002", "Carbon Trekking Poles", Same(12900, ONE_SIZE), "trekking-poles,carbon,adjustable",
            "Adjustable carbon trekking poles with cork grips and flick locks, sold as a pair."),
        item("ACC-003", "Beacon 400 Headlamp", Same(4999, &[("Black", "BLK"), ("Orange", "ORG")]),
            "headlamp,lighting,rechargeable",
            "A 400-lumen rechargeable headlamp with a red night mode and a lock-out switch."),
        item("ACC-004", "Insulated Trail Bottle", Priced(&[("18 oz", "18", 2999), ("32 oz", "32", 3999)]),
            "bottle,insulated,hydration",
            "A double-wall stainless bottle that keeps water cold through a full day on the trail."),
        item("ACC-005", "Trail Brim Sun Hat", Same(3900, TWO_SIZES), "hat,sun-protection,upf50",
            "A UPF 50 wide-brim hat with a packable brim and a chin cord for windy ridges."),
        item("ACC-006", "Touchscreen Liner Gloves", Same(2999, SIZES), "gloves,liner,touchscreen",
            "Lightweight touchscreen-compatible liner gloves for chilly mornings.").was(3499),
    ]),
];

struct Catalog {
    products: Vec<SeededProduct>,
    variants: Vec<SeededVariant>,
}

struct SeededProduct {
    id: String,
    active: bool,
}

struct SeededVariant {
    id: String,
    /// Index into `Catalog::products`.
    product: usize,
    /// Product and variant title as an order line shows it.
    line_title: String,
    sku: String,
    price_cents: i64,
    active: bool,
}

fn insert_catalog(tx: &Transaction<'_>, rng: &mut StdRng, ctx: &Ctx<'_>) -> rusqlite::Result<Catalog> {
    let mut product_stmt = tx.prepare_cached(
        "INSERT INTO products
             (id, store_id, mode, title, description, category, status, tags, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut variant_stmt = tx.prepare_cached(
        "INSERT INTO variants
             (id, store_id, mode, product_id, sku, title, price_cents, compare_at_cents, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut catalog = Catalog {
        products: Vec::new(),
        variants: Vec::new(),
    };
    for &(category, specs) in CATALOG {
        for spec in specs {
            // Drafts are recent work in progress; everything else predates
            // the whole order and review history.
            let age = if spec.status == DRAFT {
                rng.random_range(3 * DAY_MS..30 * DAY_MS)
            } else {
                rng.random_range(REVIEW_WINDOW_DAYS * DAY_MS..400 * DAY_MS)
            };
            let created_at = ctx.now - age;
            let updated_at = rng.random_range(created_at..=ctx.now);
            let product_id = new_id("prod");
            product_stmt.execute(params![
                product_id,
                ctx.store,
                ctx.mode,
                spec.title,
                spec.description,
                category,
                spec.status,
                spec.tags,
                created_at,
                updated_at
            ])?;

            let product = catalog.products.len();
            let active = spec.status == ACTIVE;
            for (position, (title, suffix, price_cents)) in spec.options.variants().into_iter().enumerate() {
                let id = new_id("var");
                let sku = format!("WDO-{}-{suffix}", spec.code);
                let compare_at = spec.compare_at_cents.filter(|&was| was > price_cents);
                variant_stmt.execute(params![
                    id,
                    ctx.store,
                    ctx.mode,
                    product_id,
                    sku,
                    title,
                    price_cents,
                    compare_at,
                    position as i64
                ])?;
                catalog.variants.push(SeededVariant {
                    id,
                    product,
                    line_title: format!("{} — {title}", spec.title),
                    sku,
                    price_cents,
                    active,
                });
            }
            catalog.products.push(SeededProduct {
                id: product_id,
                active,
            });
        }
    }
    Ok(catalog)
}

// ---------------------------------------------------------------------------
// Locations and stock
// ---------------------------------------------------------------------------

struct Locations {
    default: String,
    secondary: String,
}

fn insert_locations(tx: &Transaction<'_>, ctx: &Ctx<'_>) -> rusqlite::Result<Locations> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO locations (id, store_id, mode, name, address, is_default, active, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
    )?;
    let mut insert = |name: &str, address: &str, is_default: bool| -> rusqlite::Result<String> {
        let id = new_id("loc");
        stmt.execute(params![
            id,
            ctx.store,
            ctx.mode,
            name,
            address,
            is_default,
            ctx.days_ago(400)
        ])?;
        Ok(id)
    };
    Ok(Locations {
        default: insert("Brooklyn Warehouse", "55 Water St, Brooklyn, NY 11201", true)?,
        secondary: insert("Portland Store", "1020 SW Taylor St, Portland, OR 97205", false)?,
    })
}

fn insert_inventory(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    ctx: &Ctx<'_>,
    locations: &Locations,
    catalog: &Catalog,
) -> rusqlite::Result<()> {
    let mut level_stmt = tx.prepare_cached(
        "INSERT INTO inventory_levels (store_id, mode, variant_id, location_id, available, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    // One opening adjustment per stocked level, so the adjustment history
    // sums to what is on hand.
    let mut adjustment_stmt = tx.prepare_cached(
        "INSERT INTO inventory_adjustments
             (id, store_id, mode, variant_id, location_id, delta, reason, reference, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received', 'opening stock', ?7)",
    )?;

    // Low stock only on products that are for sale: an alert about a draft
    // would look like noise.
    let sellable: Vec<usize> = (0..catalog.variants.len())
        .filter(|&i| catalog.variants[i].active)
        .collect();
    let mut low = HashSet::new();
    while low.len() < LOW_STOCK_VARIANTS.min(sellable.len()) {
        low.insert(sellable[rng.random_range(0..sellable.len())]);
    }

    for (i, variant) in catalog.variants.iter().enumerate() {
        // Healthy stock stays strictly above the threshold so the only alerts
        // are the ones chosen above.
        let at_default = if low.contains(&i) {
            rng.random_range(0..LOW_STOCK_THRESHOLD)
        } else {
            rng.random_range(LOW_STOCK_THRESHOLD + 1..=120)
        };
        let at_secondary = rng.random_range(LOW_STOCK_THRESHOLD + 3..=80);
        for (location, available) in [
            (&locations.default, at_default),
            (&locations.secondary, at_secondary),
        ] {
            level_stmt.execute(params![
                ctx.store, ctx.mode, variant.id, location, available, ctx.now
            ])?;
            if available > 0 {
                adjustment_stmt.execute(params![
                    new_id("adj"),
                    ctx.store,
                    ctx.mode,
                    variant.id,
                    location,
                    available,
                    ctx.now
                ])?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------

const CUSTOMERS: &[(&str, &str)] = &[
    ("Maya", "Thompson"),
    ("Ethan", "Nguyen"),
    ("Olivia", "Martinez"),
    ("Liam", "Brennan"),
    ("Sofia", "Rossi"),
    ("Noah", "Kim"),
    ("Ava", "Patel"),
    ("Lucas", "Schmidt"),
    ("Isabella", "Garcia"),
    ("Mason", "Clark"),
    ("Amara", "Okafor"),
    ("James", "Whitaker"),
    ("Chloe", "Dubois"),
    ("Benjamin", "Lee"),
    ("Priya", "Raman"),
    ("Daniel", "Novak"),
    ("Hannah", "Fischer"),
    ("Mateo", "Alvarez"),
    ("Grace", "Sullivan"),
    ("Samuel", "Adeyemi"),
    ("Zoe", "Chen"),
    ("Owen", "Murphy"),
    ("Leila", "Haddad"),
    ("Henry", "Walsh"),
    ("Nora", "Lindqvist"),
    ("Caleb", "Brooks"),
    ("Aisha", "Rahman"),
    ("Jack", "Morrison"),
    ("Emily", "Carter"),
    ("Ryan", "Takahashi"),
];

struct SeededCustomer {
    id: String,
    created_at: i64,
    /// US state whose tax rate the customer's orders use.
    region: &'static str,
    vip: bool,
}

fn insert_customers(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    ctx: &Ctx<'_>,
) -> rusqlite::Result<Vec<SeededCustomer>> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO customers
             (id, store_id, mode, email, name, phone, tags, accepts_marketing, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut customers = Vec::with_capacity(CUSTOMERS.len());
    for (i, &(first, last)) in CUSTOMERS.iter().enumerate() {
        let region = weighted(rng, &[("NY", 50), ("OR", 25), ("CA", 25)]);
        // VIP and wholesale follow a fixed pattern rather than dice, so every
        // seed has a few of each for the VIP coupon and for tag filters.
        let vip = i % 7 == 0;
        let wholesale = i % 11 == 5;
        let newsletter = rng.random_range(0..100) < 45;
        let accepts_marketing = newsletter || rng.random_range(0..100) < 20;
        // 555-0100..0199 are reserved for fiction, so no real line gets called.
        let area_code = match region {
            "NY" => "212",
            "OR" => "503",
            _ => "415",
        };
        let phone = (rng.random_range(0..100) < 60).then(|| format!("+1 {area_code}-555-{:04}", 100 + i));
        let tags: Vec<&str> = [(vip, "vip"), (wholesale, "wholesale"), (newsletter, "newsletter")]
            .into_iter()
            .filter_map(|(on, tag)| on.then_some(tag))
            .collect();
        let created_at = ctx.now - rng.random_range(DAY_MS..400 * DAY_MS);
        let id = new_id("cus");
        stmt.execute(params![
            id,
            ctx.store,
            ctx.mode,
            format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
            format!("{first} {last}"),
            phone,
            tags.join(","),
            accepts_marketing,
            created_at
        ])?;
        customers.push(SeededCustomer {
            id,
            created_at,
            region,
            vip,
        });
    }
    Ok(customers)
}

/// A customer who already had an account at `at`; the oldest account when nobody did.
fn pick_customer(rng: &mut StdRng, customers: &[SeededCustomer], at: i64) -> usize {
    let eligible: Vec<usize> = (0..customers.len())
        .filter(|&i| customers[i].created_at <= at)
        .collect();
    if eligible.is_empty() {
        (0..customers.len())
            .min_by_key(|&i| customers[i].created_at)
            .unwrap_or(0)
    } else {
        eligible[rng.random_range(0..eligible.len())]
    }
}

// ---------------------------------------------------------------------------
// Tax and coupons
// ---------------------------------------------------------------------------

/// (country, region, name, rate in basis points); an empty region is the
/// country-wide default.
const TAX_RATES: &[(&str, &str, &str, i64)] = &[
    ("US", "NY", "New York", 887),
    ("US", "OR", "Oregon", 0),
    ("US", "CA", "California", 725),
    ("US", "", "United States", 600),
    ("CA", "", "Canada", 500),
    ("GB", "", "United Kingdom", 2000),
];

fn insert_tax_rates(tx: &Transaction<'_>, ctx: &Ctx<'_>) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO tax_rates (id, store_id, mode, country, region, name, rate_bps)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for &(country, region, name, bps) in TAX_RATES {
        stmt.execute(params![
            new_id("tax"),
            ctx.store,
            ctx.mode,
            country,
            region,
            name,
            bps
        ])?;
    }
    Ok(())
}

/// The US rate for a state, falling back to the country default as the
/// checkout does.
fn us_rate_bps(region: &str) -> i64 {
    let rate = |r: &str| TAX_RATES.iter().find(|t| t.0 == "US" && t.1 == r).map(|t| t.3);
    rate(region).or_else(|| rate("")).unwrap_or(0)
}

/// Tax on `taxable` cents at `bps`, rounded half up in integers.
fn tax_cents(taxable: i64, bps: i64) -> i64 {
    (taxable * bps + 5_000) / 10_000
}

#[derive(Clone, Copy)]
enum Discount {
    /// Whole percent off the subtotal.
    Percent(i64),
    /// Cents off, never more than the subtotal.
    Fixed(i64),
}

impl Discount {
    fn kind(self) -> &'static str {
        match self {
            Discount::Percent(_) => "percentage",
            Discount::Fixed(_) => "fixed",
        }
    }
    fn value(self) -> i64 {
        match self {
            Discount::Percent(v) | Discount::Fixed(v) => v,
        }
    }
    fn amount_off(self, subtotal_cents: i64) -> i64 {
        match self {
            Discount::Percent(percent) => subtotal_cents * percent / 100,
            Discount::Fixed(cents) => cents.min(subtotal_cents),
        }
    }
}

struct CouponSpec {
    code: &'static str,
    discount: Discount,
    usage_limit: Option<i64>,
    per_customer_limit: Option<i64>,
    starts_days_ago: Option<i64>,
    ends_days_ago: Option<i64>,
    active: bool,
    created_days_ago: i64,
    /// Seed-only rule: handed out to VIP customers, so only they redeem it.
    vip_only: bool,
}

const COUPONS: &[CouponSpec] = &[
    CouponSpec {
        code: "WELCOME10",
        discount: Discount::Percent(10),
        usage_limit: None,
        per_customer_limit: Some(1),
        starts_days_ago: None,
        ends_days_ago: None,
        active: true,
        created_days_ago: 400,
        vip_only: false,
    },
    // Ended months ago but never switched off: an expired code to explain.
    CouponSpec {
        code: "SPRING25",
        discount: Discount::Percent(25),
        usage_limit: None,
        per_customer_limit: None,
        starts_days_ago: Some(330),
        ends_days_ago: Some(270),
        active: true,
        created_days_ago: 340,
        vip_only: false,
    },
    CouponSpec {
        code: "SAVE5",
        discount: Discount::Fixed(500),
        usage_limit: Some(100),
        per_customer_limit: None,
        starts_days_ago: None,
        ends_days_ago: None,
        active: true,
        created_days_ago: 200,
        vip_only: false,
    },
    CouponSpec {
        code: "VIP20",
        discount: Discount::Percent(20),
        usage_limit: None,
        per_customer_limit: Some(3),
        starts_days_ago: None,
        ends_days_ago: None,
        active: true,
        created_days_ago: 300,
        vip_only: true,
    },
    CouponSpec {
        code: "BULK50",
        discount: Discount::Fixed(5000),
        usage_limit: None,
        per_customer_limit: None,
        starts_days_ago: None,
        ends_days_ago: None,
        active: false,
        created_days_ago: 150,
        vip_only: false,
    },
];

struct SeededCoupon {
    id: String,
    spec: &'static CouponSpec,
    times_used: i64,
}

impl SeededCoupon {
    /// Whether the checkout would accept this code at `at` for a customer who
    /// has already used it `used_by_customer` times.
    fn redeemable(&self, ctx: &Ctx<'_>, at: i64, vip: bool, used_by_customer: i64) -> bool {
        let s = self.spec;
        s.active
            && s.starts_days_ago.is_none_or(|d| ctx.days_ago(d) <= at)
            && s.ends_days_ago.is_none_or(|d| at < ctx.days_ago(d))
            && s.usage_limit.is_none_or(|limit| self.times_used < limit)
            && s.per_customer_limit.is_none_or(|limit| used_by_customer < limit)
            && (vip || !s.vip_only)
    }
}

fn insert_coupons(tx: &Transaction<'_>, ctx: &Ctx<'_>) -> rusqlite::Result<Vec<SeededCoupon>> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO coupons
             (id, store_id, mode, code, kind, value, usage_limit, per_customer_limit,
              times_used, starts_at, ends_at, active, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12)",
    )?;
    let mut coupons = Vec::with_capacity(COUPONS.len());
    for spec in COUPONS {
        let id = new_id("cpn");
        stmt.execute(params![
            id,
            ctx.store,
            ctx.mode,
            spec.code,
            spec.discount.kind(),
            spec.discount.value(),
            spec.usage_limit,
            spec.per_customer_limit,
            spec.starts_days_ago.map(|d| ctx.days_ago(d)),
            spec.ends_days_ago.map(|d| ctx.days_ago(d)),
            spec.active,
            ctx.days_ago(spec.created_days_ago)
        ])?;
        coupons.push(SeededCoupon {
            id,
            spec,
            times_used: 0,
        });
    }
    Ok(coupons)
}

// ---------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------

const ORDER_NOTES: &[&str] = &[
    "Gift — please leave the receipt out of the box.",
    "Leave with the building concierge if nobody answers.",
    "Customer asked to ship everything together.",
];

const REFUND_REASONS: &[&str] = &[
    "Arrived damaged in transit",
    "Wrong size; customer declined an exchange",
    "Returned unworn within 30 days",
];

fn insert_orders(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    ctx: &Ctx<'_>,
    locations: &Locations,
    catalog: &Catalog,
    customers: &[SeededCustomer],
    coupons: &mut [SeededCoupon],
) -> rusqlite::Result<()> {
    let mut order_stmt = tx.prepare_cached(
        "INSERT INTO orders
             (id, store_id, mode, number, customer_id, status, currency,
              subtotal_cents, discount_cents, tax_cents, shipping_cents, total_cents,
              paid_cents, refunded_cents, coupon_code, tax_country, tax_region,
              location_id, note, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                 'US', ?16, ?17, ?18, ?19, ?20)",
    )?;
    let mut item_stmt = tx.prepare_cached(
        "INSERT INTO order_items
             (id, order_id, variant_id, product_id, title, sku, quantity, unit_price_cents, total_cents)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut redemption_stmt = tx.prepare_cached(
        "INSERT INTO coupon_redemptions (coupon_id, order_id, customer_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut refund_stmt = tx.prepare_cached(
        "INSERT INTO refunds (id, order_id, amount_cents, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;

    let sellable: Vec<usize> = (0..catalog.variants.len())
        .filter(|&i| catalog.variants[i].active)
        .collect();
    let mut history: Vec<(i64, &str)> = (0..ORDER_COUNT)
        .map(|_| {
            let status = weighted(
                rng,
                &[
                    ("fulfilled", 70),
                    ("paid", 15),
                    ("pending", 5),
                    ("cancelled", 5),
                    ("refunded", 5),
                ],
            );
            // Unfinished orders are recent: a shop clears its unpaid and
            // unshipped queue within days, not months.
            let window_days = match status {
                "pending" => 4,
                "paid" => 10,
                _ => ORDER_WINDOW_DAYS,
            };
            (rng.random_range(10 * MINUTE_MS..window_days * DAY_MS), status)
        })
        .collect();
    // Oldest first, so order numbers rise with time as they do in a real shop.
    history.sort_by_key(|&(age, _)| Reverse(age));
    let mut used_by: HashMap<(usize, usize), i64> = HashMap::new();
    let mut next_number = FIRST_ORDER_NUMBER;

    for (age, status) in history {
        let created_at = ctx.now - age;
        let number = next_number;
        next_number += 1;
        let customer_idx = pick_customer(rng, customers, created_at);
        let customer = &customers[customer_idx];

        let line_count = weighted(rng, &[(1usize, 45), (2, 30), (3, 15), (4, 10)]).min(sellable.len());
        let mut lines: Vec<(usize, i64)> = Vec::with_capacity(line_count);
        while lines.len() < line_count {
            let v = sellable[rng.random_range(0..sellable.len())];
            if lines.iter().all(|&(seen, _)| seen != v) {
                lines.push((v, rng.random_range(1..=3)));
            }
        }
        let subtotal: i64 = lines
            .iter()
            .map(|&(v, qty)| qty * catalog.variants[v].price_cents)
            .sum();

        // VIPs are mailed their code, so they use one far more often. A
        // cancelled order would have released its redemption, so none carry one.
        let coupon_chance = if customer.vip { 40 } else { 12 };
        let coupon = if status != "cancelled" && rng.random_range(0..100) < coupon_chance {
            // Shoppers holding several codes apply the one worth most.
            (0..coupons.len())
                .filter(|&c| {
                    let used = used_by.get(&(c, customer_idx)).copied().unwrap_or(0);
                    coupons[c].redeemable(ctx, created_at, customer.vip, used)
                })
                .max_by_key(|&c| coupons[c].spec.discount.amount_off(subtotal))
        } else {
            None
        };

        let discount = coupon.map_or(0, |c| coupons[c].spec.discount.amount_off(subtotal));
        let tax = tax_cents(subtotal - discount, us_rate_bps(customer.region));
        let shipping = if subtotal >= FREE_SHIPPING_FROM_CENTS {
            0
        } else {
            FLAT_SHIPPING_CENTS
        };
        let total = subtotal - discount + tax + shipping;
        let (paid, refunded) = match status {
            "pending" | "cancelled" => (0, 0),
            "refunded" => (total, total),
            _ => (total, 0),
        };
        let refund = (status == "refunded" && total > 0).then(|| {
            let at = (created_at + rng.random_range(DAY_MS..10 * DAY_MS)).min(ctx.now);
            (at, REFUND_REASONS[rng.random_range(0..REFUND_REASONS.len())])
        });
        let note =
            (rng.random_range(0..100) < 6).then(|| ORDER_NOTES[rng.random_range(0..ORDER_NOTES.len())]);

        let order_id = new_id("ord");
        order_stmt.execute(params![
            order_id,
            ctx.store,
            ctx.mode,
            number,
            customer.id,
            status,
            ctx.currency,
            subtotal,
            discount,
            tax,
            shipping,
            total,
            paid,
            refunded,
            coupon.map(|c| coupons[c].spec.code),
            customer.region,
            locations.default,
            note,
            created_at,
            refund.map_or(created_at, |(at, _)| at)
        ])?;
        for &(v, quantity) in &lines {
            let variant = &catalog.variants[v];
            item_stmt.execute(params![
                new_id("oi"),
                order_id,
                variant.id,
                catalog.products[variant.product].id,
                variant.line_title,
                variant.sku,
                quantity,
                variant.price_cents,
                quantity * variant.price_cents
            ])?;
        }
        if let Some(c) = coupon {
            redemption_stmt.execute(params![coupons[c].id, order_id, customer.id, created_at])?;
            coupons[c].times_used += 1;
            *used_by.entry((c, customer_idx)).or_default() += 1;
        }
        if let Some((at, reason)) = refund {
            refund_stmt.execute(params![new_id("re"), order_id, refunded, reason, at])?;
        }
    }

    let mut used_stmt = tx.prepare_cached("UPDATE coupons SET times_used = ?2 WHERE id = ?1")?;
    for coupon in coupons.iter() {
        used_stmt.execute(params![coupon.id, coupon.times_used])?;
    }
    tx.execute(
        "UPDATE store_settings SET order_number_next = ?3, updated_at = ?4
         WHERE store_id = ?1 AND mode = ?2",
        params![ctx.store, ctx.mode, next_number, ctx.now],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Reviews
// ---------------------------------------------------------------------------

fn review_texts(rating: i64) -> &'static [(&'static str, &'static str)] {
    match rating {
        5 => &[
            (
                "Worth every penny",
                "Held up perfectly on a week-long trip and still looks new.",
            ),
            (
                "Exactly as described",
                "Fits true to size and the quality is obvious the moment you hold it.",
            ),
            (
                "My new favorite",
                "I've reached for this on every outing since it arrived.",
            ),
            ("Bombproof", "Took a beating on rocky trails without a scratch."),
            (
                "Great service too",
                "Shipped fast from Brooklyn with a handwritten thank-you in the box.",
            ),
        ],
        4 => &[
            (
                "Really solid",
                "Performs great overall; I only wish it came in more colors.",
            ),
            (
                "Good value",
                "Not the lightest option out there, but it's tough and well made.",
            ),
            ("Happy with it", "Runs slightly large, so consider sizing down."),
            (
                "Does the job",
                "Comfortable out of the box and handled a rainy weekend fine.",
            ),
        ],
        3 => &[
            (
                "It's fine",
                "Decent quality, but the fit was a little boxy for me.",
            ),
            (
                "Mixed feelings",
                "Works well, though a zipper pull came loose after a month.",
            ),
        ],
        2 => &[
            (
                "Not for me",
                "Sizing was off and the material felt thinner than I expected.",
            ),
            ("Disappointed", "Started showing wear after only a few trips."),
        ],
        _ => &[
            (
                "Returned it",
                "Arrived with a defect and the replacement took weeks.",
            ),
            (
                "Poor quality",
                "Came apart on the second outing; I expected better at this price.",
            ),
        ],
    }
}

fn insert_reviews(
    tx: &Transaction<'_>,
    rng: &mut StdRng,
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    customers: &[SeededCustomer],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO reviews (id, store_id, mode, product_id, customer_id, rating, title, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let products: Vec<usize> = (0..catalog.products.len())
        .filter(|&i| catalog.products[i].active)
        .collect();
    if products.is_empty() || customers.is_empty() {
        return Ok(());
    }
    // One review per customer per product, as a storefront would enforce.
    let mut reviewed = HashSet::new();
    let mut attempts = 0;
    while reviewed.len() < REVIEW_COUNT && attempts < REVIEW_COUNT * 20 {
        attempts += 1;
        let created_at = ctx.now - rng.random_range(MINUTE_MS..REVIEW_WINDOW_DAYS * DAY_MS);
        let product = products[rng.random_range(0..products.len())];
        let customer = pick_customer(rng, customers, created_at);
        if !reviewed.insert((product, customer)) {
            continue;
        }
        let rating = weighted(rng, &[(5i64, 50), (4, 28), (3, 10), (2, 7), (1, 5)]);
        let texts = review_texts(rating);
        let (title, body) = texts[rng.random_range(0..texts.len())];
        stmt.execute(params![
            new_id("rev"),
            ctx.store,
            ctx.mode,
            catalog.products[product].id,
            customers[customer].id,
            rating,
            title,
            body,
            created_at
        ])?;
    }
    Ok(())
}

/// One of `choices`, each as likely as its weight.
fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|&(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for &(value, weight) in choices {
        if roll < weight {
            return value;
        }
        roll -= weight;
    }
    // Unreachable: the rolls above cover 0..total.
    choices[choices.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        for sql in super::super::MIGRATIONS {
            conn.execute_batch(sql).unwrap();
        }
        conn
    }

    fn scalar(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn per_mode(conn: &Connection, table: &str, mode: &str) -> i64 {
        conn.query_row(
            &format!("SELECT count(*) FROM {table} WHERE store_id = 'demo' AND mode = ?1"),
            [mode],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn all_counts(conn: &Connection) -> Vec<i64> {
        let scoped = [
            "products",
            "variants",
            "locations",
            "inventory_levels",
            "inventory_adjustments",
            "customers",
            "tax_rates",
            "coupons",
            "orders",
            "reviews",
            "store_settings",
        ];
        let mut counts: Vec<i64> = ["live", "test"]
            .iter()
            .flat_map(|mode| scoped.iter().map(move |t| per_mode(conn, t, mode)))
            .collect();
        for table in ["stores", "order_items", "refunds", "coupon_redemptions"] {
            counts.push(scalar(conn, &format!("SELECT count(*) FROM {table}")));
        }
        counts
    }

    #[test]
    fn demo_store_is_complete_consistent_and_idempotent() {
        let mut conn = migrated();
        ensure_demo(&mut conn).unwrap();
        let first = all_counts(&conn);

        for mode in ["live", "test"] {
            assert!(per_mode(&conn, "products", mode) >= 40);
            assert_eq!(per_mode(&conn, "customers", mode), 30);
            assert_eq!(per_mode(&conn, "orders", mode), 100);
            assert_eq!(per_mode(&conn, "locations", mode), 2);
            assert!(per_mode(&conn, "reviews", mode) >= 50);
            let q = |sql: &str| -> i64 { conn.query_row(sql, [mode], |r| r.get(0)).unwrap() };
            // Shipped orders (refunds are of shipped goods) carry the time
            // they shipped; open ones do not.
            assert_eq!(
                q("SELECT count(*) FROM orders WHERE store_id = 'demo' AND mode = ?1
                    AND (fulfilled_at IS NOT NULL) <> (status IN ('fulfilled', 'refunded', 'partially_refunded'))"),
                0
            );
            assert_eq!(
                q("SELECT count(*) FROM products WHERE store_id = 'demo' AND mode = ?1 AND status = 'draft'"),
                3
            );
            assert_eq!(
                q(
                    "SELECT count(*) FROM products WHERE store_id = 'demo' AND mode = ?1 AND status = 'archived'"
                ),
                2
            );
            assert_eq!(
                q(
                    "SELECT count(*) FROM inventory_levels WHERE store_id = 'demo' AND mode = ?1
                   AND available <= 5"
                ),
                LOW_STOCK_VARIANTS as i64
            );
            assert_eq!(
                q("SELECT min(number) FROM orders WHERE store_id = 'demo' AND mode = ?1"),
                1001
            );
            assert_eq!(
                q("SELECT max(number) FROM orders WHERE store_id = 'demo' AND mode = ?1"),
                1100
            );
            assert_eq!(
                q("SELECT order_number_next FROM store_settings WHERE store_id = 'demo' AND mode = ?1"),
                1101
            );
            // Numbers follow time.
            assert_eq!(
                q("SELECT count(*) FROM orders a JOIN orders b
                     ON a.store_id = b.store_id AND a.mode = b.mode
                    AND a.number < b.number AND a.created_at > b.created_at
                   WHERE a.store_id = 'demo' AND a.mode = ?1"),
                0
            );
        }

        let none = |sql: &str| assert_eq!(scalar(&conn, sql), 0, "{sql}");
        none(
            "SELECT count(*) FROM orders
              WHERE total_cents != subtotal_cents - discount_cents + tax_cents + shipping_cents",
        );
        none(
            "SELECT count(*) FROM orders o
              WHERE subtotal_cents != (SELECT sum(total_cents) FROM order_items WHERE order_id = o.id)",
        );
        none("SELECT count(*) FROM order_items WHERE total_cents != quantity * unit_price_cents");
        none(
            "SELECT count(*) FROM orders o JOIN tax_rates t
                ON t.store_id = o.store_id AND t.mode = o.mode
               AND t.country = o.tax_country AND t.region = o.tax_region
              WHERE o.tax_cents != ((o.subtotal_cents - o.discount_cents) * t.rate_bps + 5000) / 10000",
        );
        none("SELECT count(*) FROM inventory_levels WHERE available < 0");
        none("SELECT count(*) FROM orders WHERE refunded_cents > paid_cents");
        none("SELECT count(*) FROM orders o
              WHERE refunded_cents != coalesce((SELECT sum(amount_cents) FROM refunds WHERE order_id = o.id), 0)");
        none(
            "SELECT count(*) FROM coupons c
              WHERE times_used != (SELECT count(*) FROM coupon_redemptions WHERE coupon_id = c.id)",
        );
        none("SELECT count(*) FROM orders WHERE (coupon_code IS NULL) != (discount_cents = 0)");
        none(
            "SELECT count(*) FROM inventory_levels l
              WHERE available != coalesce((SELECT sum(delta) FROM inventory_adjustments a
                   WHERE a.variant_id = l.variant_id AND a.location_id = l.location_id), 0)",
        );

        let mut fk = conn.prepare("PRAGMA foreign_key_check").unwrap();
        assert!(fk.query([]).unwrap().next().unwrap().is_none());
        drop(fk);

        ensure_demo(&mut conn).unwrap();
        assert_eq!(all_counts(&conn), first);
    }

    #[test]
    fn seeding_is_deterministic_per_mode() {
        let mut conn = migrated();
        let tx = conn.transaction().unwrap();
        let now = 1_750_000_000_000;
        for store in ["a", "b"] {
            create_store_rows(&tx, store, "Shop", "USD", "UTC", now).unwrap();
            seed_mode(&tx, store, Mode::Live, now).unwrap();
        }
        seed_mode(&tx, "a", Mode::Test, now).unwrap();
        let history = |store: &str, mode: &str| -> Vec<(i64, i64, String, i64)> {
            tx.prepare(
                "SELECT number, total_cents, status, created_at FROM orders
                 WHERE store_id = ?1 AND mode = ?2 ORDER BY number",
            )
            .unwrap()
            .query_map([store, mode], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        assert_eq!(history("a", "live"), history("b", "live"));
        assert_ne!(history("a", "live"), history("a", "test"));
    }
}
