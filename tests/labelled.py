"""A few dozen hand-written, labelled Indonesian feedback texts shared by the model tests."""

NEG = [
    "aplikasinya lemot banget, error terus",
    "otp gak masuk masuk udah 3 hari",
    "insentif belum cair, kecewa",
    "cs nya gak bales, parah",
    "sertifikat hilang abis update, kesel",
    "web down terus gak bisa login",
    "penipuan atas nama program, hati2",
    "pelatihannya membosankan dan mahal",
    "verifikasi wajah gagal mulu",
    "udah sebulan nunggu gak ada kabar, payah",
]
NEU = [
    "min kapan gelombang 15 dibuka?",
    "gimana caranya ganti nomor hp?",
    "syarat daftar apa aja ya min",
    "info jadwal pencairan dong",
    "apakah bisa daftar pakai ktp lama?",
    "berapa lama proses verifikasi?",
    "link pendaftaran resmi yang mana ya",
    "cara klaim sertifikat gimana min",
    "batas waktu pelatihan kapan",
    "nomor call center berapa ya",
]
POS = [
    "makasih min insentif udah cair",
    "pelatihannya bermanfaat banget",
    "cs nya ramah dan cepat tanggap",
    "aplikasinya lancar jaya sekarang",
    "alhamdulillah sertifikat udah keluar",
    "programnya keren, sangat membantu",
    "mantap, prosesnya cepat",
    "terima kasih kartu cakap, saya dapat kerja",
    "materinya bagus dan jelas",
    "puas banget sama pelayanannya",
]
TEXTS = NEG + NEU + POS
LABELS = ["negative"] * 10 + ["neutral"] * 10 + ["positive"] * 10

# Topic labels (the default taxonomy), one or two per text.
TOPIC_LABELLED = [
    ("kode otp tidak pernah masuk ke hp", ["akun_verifikasi"]),
    ("gagal login terus padahal password benar", ["akun_verifikasi", "aplikasi_sistem"]),
    ("insentif belum cair sudah dua bulan", ["pembayaran_dana"]),
    ("uang saku beasiswa kapan ditransfer", ["pembayaran_dana", "informasi_kebijakan"]),
    ("aplikasi error terus tidak bisa dibuka", ["aplikasi_sistem"]),
    ("penerima bantuan banyak yang salah sasaran", ["ketepatan_sasaran"]),
    ("syarat daftar program apa saja ya", ["informasi_kebijakan"]),
    ("programnya bagus sangat membantu", ["manfaat_kualitas"]),
    ("cs tidak membalas chat saya", ["layanan_pelanggan"]),
    ("hati-hati penipuan akun palsu minta otp", ["penipuan_keamanan"]),
    ("selamat pagi semua", ["lainnya"]),
]
