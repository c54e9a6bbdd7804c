"""Generate the small Danish demo corpus shipped under assets/demo/.

The demo workflow must run offline on data the project may redistribute, so the corpus
is written here from hand-made sentence templates and lexicons (original text, MIT like
the project) rather than taken from a public treebank. Output is deterministic for a seed.

    python scripts/make_demo_corpus.py [--out assets/demo] [--seed 2024]

Writes train.iob2, dev.iob2, test.iob2 in the UNER column style (`# sent_id`, `# text`,
then `ID<TAB>FORM<TAB>IOB2-TAG` per token) and README.md with the counts, then re-reads the
files and checks that every sentence's tokens rebuild its `# text` line and that the tags
are valid IOB2.

About a quarter of every lexicon is held out of train; dev and test draw half their
entities from that held-out part, so scores measure generalisation to unseen names, not
only recall of memorised strings. Dev and test sentences never repeat a train sentence.
"""
import argparse
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

LABELS = ("PER", "ORG", "LOC", "MISC")
SPLIT_SIZES = {"train": 400, "dev": 80, "test": 80}
HELD_OUT_SHARE = 0.25
HELD_OUT_DRAW = 0.5  # chance that a dev/test entity comes from the held-out part


def lexicon(text: str) -> List[str]:
    """Entries separated by '|'; line breaks in the source are only layout."""
    return [entry.strip() for entry in text.split("|")]


# --- person names -----------------------------------------------------------------------
FIRST_M = """Anders Mads Jens Søren Lars Henrik Mikkel Rasmus Frederik Christian Morten Thomas
Jakob Kasper Niels Poul Bent Erik Ole Torben Jesper Martin Peter Emil Oliver Magnus Kristian
Bjarne Flemming Per Kim Claus Carsten Svend Villads Malthe Aksel Halfdan Esben Troels Ulrik
Asger Jonas Simon Nikolaj Bo Steen Preben Johannes Viggo""".split()
FIRST_F = """Mette Anne Hanne Karen Lone Susanne Camilla Louise Sofie Ida Freja Emma Signe Maja
Line Pernille Birgitte Kirsten Inger Helle Trine Rikke Nanna Astrid Marie Karoline Julie
Cecilie Mathilde Tove Gitte Dorthe Vibeke Bodil Ellen Agnes Liv Sara Ditte Stine Tilde Esther
Merete Lærke Benedikte""".split()
LAST_DK = """Jensen Nielsen Hansen Pedersen Andersen Christensen Larsen Sørensen Rasmussen
Jørgensen Petersen Madsen Kristensen Olsen Thomsen Christiansen Poulsen Johansen Møller
Mortensen Knudsen Jakobsen Lauridsen Mikkelsen Frederiksen Holm Lund Dahl Skov Bach Vestergaard
Østergaard Kjær Brandt Bak Lindberg Winther Dam Friis Juhl Gram Krogh Storm Høj Munk Kofoed
Abildgaard Schmidt Eriksen Bundgaard Overgaard Damgaard Hedegaard Bisgaard Nygaard Thygesen
Iversen Svendsen Kirkegaard Ravn""".split()
FOREIGN = [  # (full name, gender)
    ("Ahmed Hassan", "m"), ("Fatima Ali", "f"), ("Giulia Rossi", "f"), ("Marco Bianchi", "m"),
    ("Jean Dupont", "m"), ("Claire Moreau", "f"), ("Hans Müller", "m"), ("Anna Schneider", "f"),
    ("Piotr Kowalski", "m"), ("Agnieszka Nowak", "f"), ("Emily Walker", "f"),
    ("James O'Connor", "m"), ("Yuki Tanaka", "f"), ("Li Wei", "m"), ("Chen Jing", "f"),
    ("Olga Ivanova", "f"), ("Dmitrij Petrov", "m"), ("María García", "f"),
    ("Carlos Fernández", "m"), ("Ingrid Johansson", "f"), ("Erik Lindqvist", "m"),
    ("Sven Andersson", "m"), ("Ola Haugen", "m"), ("Aino Virtanen", "f"), ("Mehmet Yılmaz", "m"),
    ("Ayşe Demir", "f"), ("Kwame Mensah", "m"), ("Amara Okafor", "f"), ("Priya Sharma", "f"),
    ("Rahul Mehta", "m"), ("Ana Souza", "f"), ("João Pereira", "m"), ("Sigrid Hauge", "f"),
    ("Björn Eklund", "m"), ("Jonas Vaitkus", "m"), ("Elena Popescu", "f"), ("Luca Romano", "m"),
    ("Sophie Laurent", "f"), ("Omar Khalil", "m"), ("Leila Haddad", "f"),
    ("Pieter van der Berg", "m"), ("Zainab Yusuf", "f"), ("Tomasz Wiśniewski", "m"),
    ("Hannah Fischer", "f"), ("Kenji Watanabe", "m"), ("Nadia Benali", "f"),
]

# --- organisations ----------------------------------------------------------------------
COMPANY = lexicon("""Novo Nordisk|Carlsberg|Vestas|Ørsted|LEGO|Arla Foods|Pandora|Coloplast
|A.P. Møller - Mærsk|Salling Group|Coop|DSB|Bang & Olufsen|Grundfos|Danfoss|Rockwool|ISS
|Tryg|GN Store Nord|Demant
|Royal Unibrew|Genmab|Lundbeck|Novozymes|Chr. Hansen|Ecco|Bestseller|Jysk|Matas|TDC|Velux
|Danish Crown|Falck|Siemens|Volkswagen|Google|Microsoft|Spotify|IKEA|Nokia|Airbus|Equinor
|Unilever|Samsung|Fjordlys Energi|Bryggeriet Nordstjernen|Holm & Friis Rådgivning
|Dalsgaard Maskinfabrik|Kystbyg A/S|Vindkraft Vest|Sølvgade Software|Nordlig Logistik""")
BANK = lexicon("""Danske Bank|Nordea|Jyske Bank|Sydbank|Nykredit|Spar Nord|Arbejdernes Landsbank
|Lån & Spar Bank|Ringkjøbing Landbobank|Handelsbanken""")
INST = lexicon("""Sundhedsstyrelsen|Skattestyrelsen|Forsvaret|Rigspolitiet|Nationalbanken|Datatilsynet
|Fødevarestyrelsen|Miljøstyrelsen|Vejdirektoratet|Finanstilsynet|Konkurrence- og Forbrugerstyrelsen
|Statens Serum Institut|Rigsrevisionen|Udlændingestyrelsen|Trafikstyrelsen|Energistyrelsen
|Styrelsen for Arbejdsmarked og Rekruttering|Beredskabsstyrelsen""")
INTORG = lexicon("""FN|NATO|EU|WHO|Europa-Kommissionen|Verdensbanken|IMF|OECD|Nordisk Råd|Røde Kors
|Europa-Parlamentet|Den Europæiske Centralbank""")
UNI = lexicon("""Københavns Universitet|Aarhus Universitet|DTU|Syddansk Universitet|Aalborg Universitet
|CBS|Roskilde Universitet|IT-Universitetet|Det Kongelige Akademi|Uppsala Universitet
|Lunds Universitet|Universitetet i Oslo""")
PRESS = lexicon("""Politiken|Berlingske|Jyllands-Posten|Information|Ekstra Bladet|B.T.|Børsen|Weekendavisen
|Ritzau|Kristeligt Dagblad|Fyens Stiftstidende|Nordjyske|Altinget|Reuters|Le Monde
|The Guardian|Dagens Nyheter|Aftenposten""")
TV = lexicon("""DR|TV 2|TV3|Netflix|HBO Max|Viaplay|SVT|NRK|BBC|TV 2 Lorry""")
DKCLUB = lexicon("""FC København|Brøndby IF|FC Midtjylland|AGF|AaB|OB|Randers FC|Silkeborg IF|Viborg FF
|Lyngby Boldklub|FC Nordsjælland|Vejle Boldklub|Sønderjyske|Hvidovre IF|Esbjerg fB|B.93
|Fremad Amager|Kolding IF|HB Køge|AC Horsens""")
HANDBALLCLUB = lexicon("""Aalborg Håndbold|GOG|Team Tvis Holstebro|Skjern Håndbold|Odense Håndbold
|Team Esbjerg|Bjerringbro-Silkeborg|Nykøbing F. Håndbold|Ikast Håndbold|Mors-Thy Håndbold""")
FOREIGNCLUB = lexicon("""Real Madrid|Liverpool|Bayern München|Ajax|Malmö FF|Rosenborg|Juventus|Celtic
|Borussia Dortmund|PSV Eindhoven|Benfica|Hammarby|Brighton|Atalanta""")
PARTY = lexicon("""Socialdemokratiet|Venstre|Det Konservative Folkeparti|SF|Enhedslisten|Radikale Venstre
|Dansk Folkeparti|Liberal Alliance|Alternativet|Moderaterne|Danmarksdemokraterne""")
NGO = lexicon("""Dansk Flygtningehjælp|Red Barnet|Danmarks Naturfredningsforening|Ældre Sagen
|Dansk Sygeplejeråd|Lægeforeningen|DGI|Dansk Industri|FOA|3F|Mellemfolkeligt Samvirke|Greenpeace
|Amnesty International|Læger uden Grænser|Kræftens Bekæmpelse|Forbrugerrådet Tænk
|Dansk Ornitologisk Forening|Landbrug & Fødevarer|Danske Regioner|KL""")
FOUNDATION = lexicon("""Novo Nordisk Fonden|Carlsbergfondet|Villum Fonden|Lundbeckfonden|Velux Fonden
|Augustinus Fonden|Det Obelske Familiefond|A.P. Møller Fonden|Nordea-fonden|Tuborgfondet""")
HOSPITAL = lexicon("""Rigshospitalet|Aarhus Universitetshospital|Odense Universitetshospital|Herlev Hospital
|Hvidovre Hospital|Aalborg Universitetshospital|Regionshospitalet Gødstrup|Bispebjerg Hospital
|Sygehus Lillebælt|Nordsjællands Hospital|Sjællands Universitetshospital|Bornholms Hospital""")
MUSEUM = lexicon("""Louisiana|ARoS|Nationalmuseet|Statens Museum for Kunst|Glyptoteket|Moesgaard Museum
|Den Gamle By|Kunsten|Trapholt|Skagens Museum|M/S Museet for Søfart|Designmuseum Danmark
|Vikingeskibsmuseet|Ordrupgaard|HEART""")
POLICE = lexicon("""Københavns Politi|Fyns Politi|Nordjyllands Politi|Østjyllands Politi
|Midt- og Vestjyllands Politi|Sydsjællands og Lolland-Falsters Politi|Syd- og Sønderjyllands Politi
|Nordsjællands Politi|Bornholms Politi|Vestegns Politi""")
SPORTTV = lexicon("DR|TV 2|TV3+|Viaplay|Eurosport|TV 2 Sport|Kanal 5|DR2")
MISSION = ["FN", "NATO", "EU", "OSCE"]
POLLSTER = lexicon("Voxmeter|Epinion|Megafon|Gallup|YouGov|Norstat")

# --- locations --------------------------------------------------------------------------
DKCITY = lexicon("""København|Aarhus|Odense|Aalborg|Esbjerg|Randers|Kolding|Horsens|Vejle|Roskilde
|Herning|Silkeborg|Næstved|Fredericia|Viborg|Køge|Holstebro|Slagelse|Svendborg|Hillerød
|Sønderborg|Helsingør|Hjørring|Frederikshavn|Skagen|Ribe|Nykøbing Falster|Ringkøbing|Thisted
|Rønne|Haderslev|Tønder|Middelfart|Nyborg|Skive|Lemvig|Ebeltoft|Grenaa|Faaborg|Marstal
|Brønderslev|Kalundborg|Ikast|Varde|Aabenraa|Nakskov|Maribo|Hobro|Løgstør|Struer""")
CITY = lexicon("""Stockholm|Oslo|Berlin|Hamborg|Paris|London|Rom|Madrid|Bruxelles|Amsterdam|Warszawa
|Helsinki|Reykjavik|Nuuk|Tórshavn|New York|Tokyo|Beijing|Nairobi|Lissabon|Wien|Prag|Malmö
|Göteborg|Bergen|Kiel|Flensborg|Barcelona|Istanbul|Kairo|Toronto|Sydney|Buenos Aires|Mumbai
|Dublin|Edinburgh|Riga|Vilnius|Tallinn|Krakow|Milano|Lyon|München|Rotterdam|Seoul|Chicago
|Cape Town|Accra""")
COUNTRY = lexicon("""Sverige|Norge|Tyskland|Frankrig|Storbritannien|Spanien|Italien|Polen|Finland|Island
|Grønland|Færøerne|Holland|Belgien|USA|Kina|Japan|Indien|Brasilien|Canada|Ukraine|Tyrkiet
|Kenya|Ghana|Egypten|Mexico|Australien|Sydkorea|Estland|Litauen|Portugal|Grækenland|Schweiz
|Østrig|Irland|Vietnam|Chile|Marokko|Sydafrika|New Zealand""")
REGION = lexicon("""Jylland|Fyn|Sjælland|Vendsyssel|Nordsjælland|Sønderjylland|Skåne|Himmerland|Thy
|Vestjylland|Midtjylland|Østjylland|Syddanmark|Lolland|Falster|Djursland|Salling|Mors
|Odsherred|Stevns|Nordjylland|Hovedstadsområdet""")
ISLAND = lexicon("""Bornholm|Samsø|Læsø|Ærø|Fanø|Anholt|Fur|Mandø|Endelave|Orø|Strynø|Møn|Langeland
|Tåsinge|Sejerø|Omø|Bågø|Hjarnø|Livø|Christiansø""")
RIVER = lexicon("""Gudenåen|Skjern Å|Suså|Storå|Karup Å|Varde Å|Ribe Å|Odense Å|Rhinen|Donau|Elben
|Themsen|Seinen|Furesø|Arresø|Esrum Sø|Mossø|Julsø|Tissø|Vidå|Kongeå|Mølleåen""")
SEA = lexicon("""Nordsøen|Østersøen|Kattegat|Lillebælt|Storebælt|Øresund|Skagerrak|Vadehavet
|Smålandshavet|Femern Bælt""")
FJORD = lexicon("""Limfjorden|Isefjorden|Roskilde Fjord|Mariager Fjord|Vejle Fjord|Horsens Fjord
|Kolding Fjord|Randers Fjord|Nissum Fjord|Ringkøbing Fjord|Odense Fjord|Flensborg Fjord""")
STREET = lexicon("""Strøget|Nørrebrogade|Vesterbrogade|Amagerbrogade|Istedgade|Store Kongensgade
|Jægersborg Allé|Åboulevarden|Vestergade|Søndergade|Algade|Kongensgade|Jernbanegade
|Nørregade|Østerbrogade|Frederiksberg Allé|Gothersgade|Bredgade|Ryesgade|Vesterå|Borgergade
|Torvegade|Havnegade|Bispensgade|Klostergade|Skolegade|Mejlgade|Jomfru Ane Gade|Overgade
|Sankt Knuds Torv""")
SQUARE = lexicon("""Christiansborg|Amalienborg|Rådhuspladsen|Kongens Nytorv|Aarhus Rådhus|Odense Rådhus
|Slotsholmen|Israels Plads|Nytorv|Bispetorvet|Flakhaven|Gammeltorv""")
LANDMARK = lexicon("""Christiansborg|Amalienborg|Nyboder|Tycho Brahe Planetarium|Marmorkirken|Rundetårn
|Kronborg|Frederiksborg Slot|Egeskov Slot|Den Lille Havfrue|Nyhavn|Dybbøl Mølle|Jellingstenene
|Råbjerg Mile|Møns Klint|Stevns Klint|Koldinghus|Aarhus Domkirke|Himmelbjerget|Hammershus""")
VENUE = lexicon("""Royal Arena|Vega|Parken|Operaen|Musikhuset|Den Grå Hal|Amager Bio|Store Vega
|Tinghallen|Posten|Voxhall|Gimle|Godset|Train|Pumpehuset|Tivolis Koncertsal""")
ROAD = lexicon("""Holbækmotorvejen|Køge Bugt Motorvejen|Helsingørmotorvejen|Den Fynske Motorvej
|Sydmotorvejen|Vestmotorvejen|Hillerødmotorvejen|Frederikssundmotorvejen
|Den Østjyske Motorvej|Motorring 3|Herningmotorvejen|Nordjyske Motorvej""")
BRIDGE = lexicon("""Storebæltsbroen|Øresundsbroen|Lillebæltsbroen|Langebro|Knippelsbro|Farøbroerne
|Vejlefjordbroen|Svendborgsundbroen|Aggersundbroen|Dronning Louises Bro|Inderhavnsbroen
|Guldborgsundbroen""")
AIRPORT = lexicon("""Københavns Lufthavn|Billund Lufthavn|Aalborg Lufthavn|Aarhus Lufthavn
|Karup Lufthavn|Bornholms Lufthavn|Esbjerg Lufthavn|Sønderborg Lufthavn""")

# --- miscellaneous: events, works, products, prizes --------------------------------------
FESTIVAL = lexicon("""Roskilde Festival|Smukfest|Distortion|Aarhus Festuge|Tønder Festival|Northside
|Heartland|Skanderborg Festival|Copenhagen Jazz Festival|Folkemødet|Kulturmødet Mors|Grøn Koncert
|Jelling Musikfestival|Copenhagen Fashion Week|Odense Filmfestival|CPH:DOX|Vig Festival
|Langelandsfestivalen|Syd for Solen|Tinderbox""")
RACE = lexicon("""Tour de France|Giro d'Italia|Copenhagen Marathon|Paris-Roubaix|Vasaløbet|Royal Run
|Eremitageløbet|Hærvejsløbet|Vuelta a España|Berlin Marathon|Flanderns Rundt|Ironman""")
STAGERACE = lexicon("""Tour de France|Giro d'Italia|Vuelta a España|Tour de Suisse|Critérium du Dauphiné
|Tour of Britain""")
TOURNAMENT = lexicon("""Champions League|Superligaen|Europa League|Danish Open|Dana Cup|Conference League
|Premier League|Bundesligaen|Kvindeligaen|Landspokalturneringen""")
CHAMPIONSHIP = ["VM", "EM", "OL"]
INTLEVENT = lexicon("""Eurovision Song Contest|Tall Ships Races|World Pride|Special Olympics
|Junior Eurovision|EuroPride|Nordic Game Jam|World Games""")
SHOW = lexicon("""Borgen|Matador|Forbrydelsen|Broen|Riget|Klovn|Bonderøven|Huset på Christianshavn
|Badehotellet|Arvingerne|Rejseholdet|Sommerdahl|Skam|Kongen af Gulddal|Nattevagten
|Lykke og Lyng|Tidevandet|Sidste Sommer på Vestkysten""")
FILM = lexicon("""Festen|Jagten|Druk|Pelle Erobreren|Babettes Gæstebud|Olsen-banden|Flammen & Citronen
|Retfærdighedens Ryttere|Under sandet|Krigen|Vinterbrødre|Bølgebryderen|Kernen i Sagen
|Ulvetime|Den Sidste Færge|Saltvand""")
BOOK = lexicon("""Kongens Fald|Ditte Menneskebarn|Frøken Smillas fornemmelse for sne|Lykke-Per
|Nattens Kyst|Sølvbryllup|Under Bøgetræerne|Havet i mig|Stormfulde Dage|Glasfuglen
|Den Gule By|Tolv Vintre|Byen Under Isen|Moster Alvildas Have|Køkkenhaven""")
PRODUCT = lexicon("""iPhone 15|Model Y|Tesla Model 3|PlayStation 5|Minecraft|Windows 11|Volvo XC40
|Tuborg Classic|Nissan Leaf|Galaxy S24|Beosound 2|LEGO Technic|Nintendo Switch|AirPods Pro
|Polestar 2|Fairphone 5|Kindle Paperwhite|Apple Watch""")
LITPRIZE = lexicon("""Nobelprisen|Nordisk Råds Litteraturpris|De Gyldne Laurbær|Kritikerprisen
|Pulitzerprisen|Montanaprisen|Søren Gyldendal-prisen|Holbergmedaljen|Booker-prisen
|Det Danske Akademis Store Pris""")
FILMPRIZE = lexicon("""Bodilprisen|Robertprisen|Guldpalmen|Guldbjørnen|Nordisk Råds Filmpris
|Guldløven""")

# --- fillers (not entities) -------------------------------------------------------------
MONTH = "januar februar marts april maj juni juli august september oktober november december".split()
WEEKDAY = "mandag tirsdag onsdag torsdag fredag lørdag søndag".split()
TOPIC = lexicon("""trafiksikkerhed|ungdomsuddannelser|luftforurening|ensomhed blandt ældre|vikingetiden
|dansk design|grundvand|digitalisering|bæredygtigt byggeri|kystsikring|skærmtid|madspild""")
SPORT = "svømning|roning|cykling|badminton|sejlsport|atletik|boksning|bueskydning|kano|håndbold".split("|")
LANG = "tysk|engelsk|svensk|fransk|polsk|arabisk|japansk|spansk|italiensk|finsk".split("|")


def _num(rng: random.Random) -> str:
    return str(rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 18, 20, 25, 30, 40, 45, 60]))


def _bignum(rng: random.Random) -> str:
    n = rng.choice([1200, 2500, 3000, 4800, 7500, 12000, 15000, 23000, 40000, 65000, 110000])
    return f"{n:,}".replace(",", ".")


FILLERS: Dict[str, Callable[[random.Random], str]] = {
    "NUM": _num,
    "BIGNUM": _bignum,
    "AGE": lambda r: str(r.randint(19, 94)),
    "YEAR": lambda r: str(r.randint(1975, 2024)),
    "DAY": lambda r: f"{r.randint(1, 28)}.",
    "MONTH": lambda r: r.choice(MONTH),
    "WEEKDAY": lambda r: r.choice(WEEKDAY),
    "TIME": lambda r: r.choice(["8.30", "9.00", "10.15", "12.00", "13.30", "14.45", "16.00", "19.30"]),
    "PCTNUM": lambda r: f"{r.randint(1, 9)},{r.randint(1, 9)}",
    "SCORE": lambda r: (lambda a: f"{a}-{r.randint(0, a - 1)}")(r.randint(1, 5)),
    "VOTESFOR": lambda r: str(r.randint(88, 112)),
    "VOTESAGAINST": lambda r: str(r.randint(45, 80)),
    "BIRTHYEAR": lambda r: str(r.randint(1938, 1996)),
    "PRICEDIFF": lambda r: r.choice(["150.000", "225.000", "300.000", "410.000", "575.000"]),
    "RATE": lambda r: r.choice(["0,1", "0,25", "0,5", "0,75"]),
    "OLDAGE": lambda r: str(r.randint(62, 96)),
    "HUNDREDS": lambda r: str(r.choice([40, 75, 100, 120, 150, 200, 250])),
    "WEEK": lambda r: str(r.randint(26, 32)),
    "TOPIC": lambda r: r.choice(TOPIC),
    "SPORT": lambda r: r.choice(SPORT),
    "LANG": lambda r: r.choice(LANG),
}

# slot name -> (label, lexicon); PER, FIRST and LAST are built from the name lists
LEXICONS: Dict[str, Tuple[str, List[str]]] = {
    "COMPANY": ("ORG", COMPANY), "BANK": ("ORG", BANK), "INST": ("ORG", INST),
    "INTORG": ("ORG", INTORG), "UNI": ("ORG", UNI), "PRESS": ("ORG", PRESS), "TV": ("ORG", TV),
    "DKCLUB": ("ORG", DKCLUB), "HANDBALLCLUB": ("ORG", HANDBALLCLUB),
    "FOREIGNCLUB": ("ORG", FOREIGNCLUB), "PARTY": ("ORG", PARTY),
    "NGO": ("ORG", NGO), "FOUNDATION": ("ORG", FOUNDATION), "HOSPITAL": ("ORG", HOSPITAL),
    "MUSEUM": ("ORG", MUSEUM), "POLICE": ("ORG", POLICE), "POLLSTER": ("ORG", POLLSTER),
    "KOMMUNE": ("ORG", ["Københavns Kommune" if c == "København" else f"{c} Kommune" for c in DKCITY]),
    "DKCITY": ("LOC", DKCITY), "CITY": ("LOC", CITY), "COUNTRY": ("LOC", COUNTRY),
    "REGION": ("LOC", REGION), "ISLAND": ("LOC", ISLAND), "RIVER": ("LOC", RIVER),
    "SEA": ("LOC", SEA), "FJORD": ("LOC", FJORD), "SQUARE": ("LOC", SQUARE), "STREET": ("LOC", STREET),
    "LANDMARK": ("LOC", LANDMARK),
    "VENUE": ("LOC", VENUE), "ROAD": ("LOC", ROAD), "BRIDGE": ("LOC", BRIDGE),
    "AIRPORT": ("LOC", AIRPORT),
    "FESTIVAL": ("MISC", FESTIVAL), "RACE": ("MISC", RACE), "STAGERACE": ("MISC", STAGERACE),
    "TOURNAMENT": ("MISC", TOURNAMENT), "SPORTTV": ("ORG", SPORTTV), "MISSION": ("ORG", MISSION),
    "CHAMPIONSHIP": ("MISC", CHAMPIONSHIP), "INTLEVENT": ("MISC", INTLEVENT), "SHOW": ("MISC", SHOW),
    "FILM": ("MISC", FILM), "BOOK": ("MISC", BOOK), "PRODUCT": ("MISC", PRODUCT),
    "LITPRIZE": ("MISC", LITPRIZE), "FILMPRIZE": ("MISC", FILMPRIZE),
}

# {SLOT} or {SLOT:mod:mod} fills an entity (mods: m/f gender, gen genitive);
# [surface|LABEL] is a fixed entity; {FILLER} from FILLERS is plain text.
TEMPLATES = [
    "{PER} er ny administrerende direktør i {COMPANY}.",
    "{COMPANY:gen} overskud steg med {PCTNUM} procent i {YEAR}.",
    "Statsministeren mødtes i går med {PER} i {CITY}.",
    "Lovforslaget blev vedtaget i [Folketinget|ORG] torsdag med {VOTESFOR} stemmer for"
    " og {VOTESAGAINST} imod.",
    "{DKCLUB} vandt {SCORE} over {DKCLUB} i søndagens kamp.",
    "{PER:m} scorede to mål, da {DKCLUB} slog {DKCLUB} {SCORE} i {DKCITY}.",
    "Vi kørte fra {DKCITY} til {DKCITY} på under to timer.",
    "Vi sejlede i kano på {RIVER} hele weekenden.",
    "Billetterne til {FESTIVAL} blev udsolgt på {NUM} minutter.",
    "{PER} har skrevet romanen {BOOK}, som udkommer på {WEEKDAY}.",
    "Serien {SHOW} blev vist på {TV} i {YEAR}.",
    "Ifølge {PRESS} overvejer {COMPANY} at flytte hovedkontoret til {CITY}.",
    "{PER:f} flyttede til {COUNTRY} som {AGE}-årig.",
    "Det regnede hele dagen, så vi blev inde og spillede kort.",
    "Mødet starter kl. {TIME} i kantinen.",
    "Prisen på {PRODUCT} falder til {BIGNUM} kr. fra den {DAY} {MONTH}.",
    "{PER} fra {UNI} forsker i klimaforandringer i {REGION}.",
    "{UNI} får {NUM} millioner kroner fra {FOUNDATION} til et nyt forskningscenter.",
    "Borgmester {PER} vil bygge en ny gangbro over {RIVER}.",
    "På {STREET} i {DKCITY} åbner der snart et nyt bageri.",
    "{PER:f} blev kåret som årets erhvervsleder af {PRESS}.",
    "Hvornår åbner {FESTIVAL} for salg af billetter?",
    "Kender du {PER}?",
    "{COUNTRY} og {COUNTRY} har underskrevet en ny handelsaftale.",
    "Udenrigsministeren rejser i næste uge til {CITY} for at mødes med {INTORG}.",
    "{PARTY} vil hæve pensionsalderen, siger {PER}.",
    "»Vi er meget tilfredse med resultatet«, siger {PER} fra {COMPANY}.",
    "Toget mod {DKCITY} er forsinket med {NUM} minutter på grund af signalfejl.",
    "Butikkerne i {CITY} har solgt over {BIGNUM} eksemplarer af {PRODUCT} siden {MONTH}.",
    "{PER} (født {DAY} {MONTH} {BIRTHYEAR} i {DKCITY}) er forfatter og debattør.",
    "{PER} modtog {LITPRIZE} i {YEAR} for romanen {BOOK}.",
    "I weekenden så over {BIGNUM} tilskuere {RACE} langs ruten.",
    "Mange ældre i {REGION} mangler stadig hurtigt internet.",
    "Hun voksede op i {DKCITY}, men bor i dag i {CITY}.",
    "{PER:m} arbejdede i {NUM} år hos {COMPANY}, før han startede sit eget firma.",
    "Ifølge [Danmarks Statistik|ORG] er ledigheden faldet til {PCTNUM} procent.",
    "{INST} har offentliggjort en ny rapport om {TOPIC}.",
    "Kampen mellem {DKCLUB} og {DKCLUB} er allerede udsolgt.",
    "En {AGE}-årig mand blev i nat anholdt af {POLICE}.",
    "Jeg har lige set {SHOW} for tredje gang.",
    "Har du læst {BOOK} af {PER}?",
    "Flyet fra {CITY} landede i {AIRPORT} med {NUM} minutters forsinkelse.",
    "{COMPANY} opretter {NUM} nye job i {DKCITY}.",
    "Aktien i {COMPANY} faldt {PCTNUM} procent på [Nasdaq Copenhagen|ORG] i dag.",
    "{PER} og {PER} blev gift i {DKCITY} i sommer.",
    "Vejret bliver mildt i hele landet, men der kan komme byger i {REGION}.",
    "{PARTY} går tilbage i den seneste måling fra {POLLSTER}.",
    "Klimaministeren besøgte i går den nye havvindmøllepark i {SEA}.",
    "Færgen til {ISLAND} er aflyst på grund af storm.",
    "{PER} er født og opvokset på {ISLAND}.",
    "Koncerten med {PER} i {VENUE} er flyttet til den {DAY} {MONTH}.",
    "Udstillingen på {MUSEUM} om {TOPIC} åbner på {WEEKDAY}.",
    "{PER:f} er udnævnt til professor ved {UNI}.",
    "{COMPANY} og {COMPANY} har indgået et samarbejde om grøn brint.",
    "I {YEAR} flyttede familien fra {COUNTRY} til {DKCITY}.",
    "Den {DAY} udgave af {FESTIVAL} trak rekordmange gæster.",
    "Der er sket et færdselsuheld på {ROAD} ved {DKCITY}.",
    "Trafikken over {BRIDGE} var stærkt forsinket i morges.",
    "{PER} fra {PARTY} kalder forslaget for »helt urimeligt«.",
    "Ved valget fik {PARTY} {PCTNUM} procent af stemmerne.",
    "[Danmark|LOC] sender {HUNDREDS} soldater til {COUNTRY} som led i en mission under {MISSION}.",
    "Han spiser frokost klokken tolv hver dag.",
    "Skolerne holder lukket på {WEEKDAY} på grund af sne.",
    "Det koster {BIGNUM} kroner at leje et sommerhus i uge {WEEK}.",
    "Hvor mange mennesker bor der egentlig i {CITY}?",
    "{PER:m} tog toget fra {DKCITY} til {CITY} for at se {FOREIGNCLUB} spille.",
    "{FOREIGNCLUB} har købt landsholdsspilleren {PER:m} fra {DKCLUB}.",
    "{PER:f} vandt guld i {SPORT} ved {CHAMPIONSHIP} i {CITY}.",
    "Kronprinsessen åbnede i dag den nye børneafdeling på {HOSPITAL}.",
    "{PER} blev kørt til {HOSPITAL} med lettere skader.",
    "Ansøgningsfristen til {UNI} er den {DAY} juli kl. 12.",
    "{PER} oversætter romaner fra {LANG} til dansk.",
    "Hvad synes du om det nye album fra {PER}?",
    "{FILM} er instrueret af {PER} og kan nu ses på {TV}.",
    "Filmen {FILM} vandt {FILMPRIZE} i {YEAR}.",
    "På {STREET} blev der i nat knust flere butiksruder.",
    "Nye tal viser, at salget af {PRODUCT} er steget kraftigt i {COUNTRY}.",
    "{PER} er blevet valgt som ny formand for {NGO}.",
    "{NGO} har samlet {BIGNUM} kroner ind til ofrene for jordskælvet i {COUNTRY}.",
    "Over {BIGNUM} mennesker demonstrerede i går foran {SQUARE}.",
    "Turisterne står i kø for at se {LANDMARK}.",
    "{PER:m} bor i en lejlighed på {STREET} med sin kone og to børn.",
    "{WEEKDAY:cap} den {DAY} {MONTH} holder {COMPANY} generalforsamling i {DKCITY}.",
    "{YEAR} blev et rekordår for turismen på {ISLAND}.",
    "{CITY} er vært for {INTLEVENT} næste år.",
    "Kan man tage bussen fra {DKCITY} til {FESTIVAL}?",
    "Jeg glæder mig helt vildt til {FESTIVAL} i sommer!",
    "{PER:f} har været journalist på {PRESS} siden {YEAR}.",
    "Ifølge {PER}, der er cheføkonom i {BANK}, vil renten stige igen.",
    "{BANK} hæver udlånsrenten med {RATE} procentpoint fra {MONTH}.",
    "{PER} spiller hovedrollen i {SHOW}.",
    "Den nye sæson af {SHOW} kan ses på {TV} fra {WEEKDAY}.",
    "Vandstanden i {RIVER} steg i nat med over en meter.",
    "Lystfiskere har fanget laks i {RIVER} for første gang i {NUM} år.",
    "Du kan læse mere om ordningen på kommunens hjemmeside.",
    "Prisen på strøm stiger igen fra den {DAY} {MONTH}.",
    "Ring venligst tilbage efter kl. {TIME}.",
    "{PER:m} og hans søster {FIRST:f} driver en økologisk gård nær {DKCITY}.",
    "Tak for sidst, {FIRST}!",
    "{LAST} afviser at have kendt til aftalen.",
    "Hvad sagde {FIRST} egentlig til mødet i {DKCITY}?",
    "{COMPANY} flytter produktionen fra {DKCITY} til {COUNTRY}.",
    "Kampene i {TOURNAMENT} sendes direkte på {SPORTTV}.",
    "Den tidligere minister {PER} er død, {OLDAGE} år gammel.",
    "Ifølge {PRESS} har {INST} overset advarsler fra {NGO}.",
    "{PER}, {PER} og {PER} er udtaget til landsholdet.",
    "Vi var på ferie i {COUNTRY} i tre uger og lejede en bil.",
    "Min bror læser medicin på {UNI}.",
    "{PRODUCT} kommer i butikkerne i {COUNTRY} i {MONTH}.",
    "På {FESTIVAL} optræder blandt andre {PER} og {PER}.",
    "{KOMMUNE} vil lukke to skoler for at spare penge.",
    "Pressemødet hos {INST} er udsat til kl. {TIME}.",
    "Børnene badede i {SEA} hele eftermiddagen, selvom vandet var koldt.",
    "Efter {NUM} år i {CITY} vendte {PER} hjem til {REGION}.",
    "Byrådet i {DKCITY} har godkendt planerne for en ny skole.",
    "Hvor mange har egentlig købt {PRODUCT} i år?",
    "{PER:m} fra {DKCLUB} blev kåret som årets spiller.",
    "{LAST:gen} forslag blev stemt ned i udvalget.",
    "I aften fortæller {PER} om sin opvækst i {CITY}.",
    "Cykelrytteren {PER:m} vandt dagens etape i {STAGERACE}.",
    "{INTORG} kritiserer {COUNTRY} for at bryde aftalen.",
    "Der var lange køer på {ROAD} i retning mod {DKCITY}.",
    "Vi mødes ved {LANDMARK} kl. {TIME}.",
    "Ifølge en undersøgelse fra {UNI} sover danske teenagere for lidt.",
    "Bogen {BOOK} er nu oversat til {NUM} sprog.",
    "Mine bedsteforældre bor i et lille hus tæt på {RIVER}.",
    "{PER} er ny chefredaktør på {PRESS}.",
    "Hvad koster en billet til {VENUE} i aften?",
    "Efter en lang vinter er der endelig sol over {ISLAND}.",
    "{HANDBALLCLUB} vandt pokalfinalen i håndbold efter en tæt kamp mod {HANDBALLCLUB}.",
    "Sejlbåden gik på grund i {FJORD} sent i går aftes.",
    "{PER:f} fra {HANDBALLCLUB} blev kåret som årets spiller.",
    "Bussen kører hvert {NUM}. minut i myldretiden.",
    "Temperaturen når op på {NUM} grader i morgen eftermiddag.",
    "Hun har boet i den samme lejlighed i {NUM} år.",
    "Kommunen regner med at spare {BIGNUM} kroner om året på den nye ordning.",
    "Biblioteket holder åbent til kl. {TIME} på {WEEKDAY}.",
    "Køen ved kassen var lang, men personalet var venligt og hurtigt.",
    "I {YEAR} blev der født flere børn end året før.",
    "Vi har bestilt bord til {NUM} personer kl. {TIME}.",
    "Renoveringen af skolen har kostet {BIGNUM} kroner mere end budgetteret.",
    "Huset blev solgt for {PRICEDIFF} kroner mere end vurderingen.",
    "Forældrene har klaget over, at der mangler pædagoger i børnehaven.",
]


def split_pool(items: Sequence, rng: random.Random) -> Tuple[List, List]:
    """Split a lexicon into (shared, held_out); tiny lexicons are not split."""
    items = list(items)
    if len(items) < 6:
        return items, []
    shuffled = items[:]
    rng.shuffle(shuffled)
    n_held = max(1, round(len(shuffled) * HELD_OUT_SHARE))
    return shuffled[n_held:], shuffled[:n_held]


class Sampler:
    """Draws entity surfaces: train only from the shared part, dev/test half from held-out."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.pools = {name: split_pool(items, rng) for name, (_, items) in LEXICONS.items()}
        self.pools["FIRST_m"] = split_pool(FIRST_M, rng)
        self.pools["FIRST_f"] = split_pool(FIRST_F, rng)
        self.pools["LAST"] = split_pool(LAST_DK, rng)
        self.pools["FOREIGN_m"] = split_pool([n for n, g in FOREIGN if g == "m"], rng)
        self.pools["FOREIGN_f"] = split_pool([n for n, g in FOREIGN if g == "f"], rng)

    def draw(self, pool: str, split: str) -> str:
        shared, held = self.pools[pool]
        if split != "train" and held and self.rng.random() < HELD_OUT_DRAW:
            return self.rng.choice(held)
        return self.rng.choice(shared)

    def person(self, gender: Optional[str], split: str) -> str:
        gender = gender or self.rng.choice("mf")
        if self.rng.random() < 0.3:
            return self.draw(f"FOREIGN_{gender}", split)
        parts = [self.draw(f"FIRST_{gender}", split)]
        if self.rng.random() < 0.2:  # double first name or middle surname
            extra = self.draw(f"FIRST_{gender}" if self.rng.random() < 0.5 else "LAST", split)
            if extra != parts[0]:
                parts.append(extra)
        last = self.draw("LAST", split)
        if last not in parts:
            parts.append(last)
        return " ".join(parts)

    def entity(self, slot: str, mods: Sequence[str], split: str) -> Tuple[str, str]:
        gender = next((m for m in mods if m in ("m", "f")), None)
        if slot == "PER":
            return self.person(gender, split), "PER"
        if slot == "FIRST":
            return self.draw(f"FIRST_{gender or self.rng.choice('mf')}", split), "PER"
        if slot == "LAST":
            return self.draw("LAST", split), "PER"
        label, _ = LEXICONS[slot]
        return self.draw(slot, split), label


def genitive(surface: str) -> str:
    """Danish genitive: -s, an apostrophe after s/x/z, and 's after acronyms and digits."""
    if surface[-1] in "sxzSXZ":
        return surface + "'"
    last = surface.split()[-1]
    if last.isupper() or last[-1].isdigit():
        return surface + "'s"
    return surface + "s"


TOKEN_RE = re.compile(
    r"(?<!\w)(?:kl|ca|nr|kr|mio|mia|bl\.a|f\.eks|dvs|osv)\."  # abbreviations keep their dot
    r"|\d+(?:[.,]\d+)+"  # 14.30, 2,5, 12.000
    r"|\d+\.(?=\s)"  # ordinals: den 3. maj
    r"|\w+(?:[-']\w+)*"  # words, 23-årig, 2-1
    r"|[^\w\s]"  # punctuation, one character each
)
SLOT_RE = re.compile(r"\{(\w+)((?::\w+)*)\}|\[([^|\]]+)\|(\w+)\]")

Token = Tuple[str, str]  # (form, IOB2 tag)


def render(template: str, sampler: Sampler, split: str) -> Tuple[str, List[Token]]:
    """Fill a template; return the sentence text and its tokens with IOB2 tags."""
    rng = sampler.rng

    def fill(m: re.Match) -> str:
        name, mods = m.group(1), m.group(2)
        if name in FILLERS:
            value = FILLERS[name](rng)
            return value.capitalize() if ":cap" in mods else value
        return m.group(0)

    template = re.sub(r"\{(\w+)((?::\w+)*)\}", fill, template)
    text = ""
    spans: List[Tuple[int, int, Optional[str]]] = []  # char spans of tokens, label if entity
    used: Set[str] = set()
    pos = 0

    def literal(chunk: str) -> str:
        """A full stop right after an entity ending in one (B.T.) is not written twice."""
        return chunk[1:] if chunk.startswith(".") and text.endswith(".") else chunk

    def add_literal(chunk: str) -> None:
        nonlocal text
        base = len(text)
        text += chunk
        for t in TOKEN_RE.finditer(chunk):
            spans.append((base + t.start(), base + t.end(), None))

    for m in SLOT_RE.finditer(template):
        add_literal(literal(template[pos:m.start()]))
        pos = m.end()
        if m.group(3):
            surface, label = m.group(3), m.group(4)
        else:
            mods = [x for x in m.group(2).split(":") if x]
            for _ in range(20):  # distinct entities within one sentence
                surface, label = sampler.entity(m.group(1), mods, split)
                if surface not in used:
                    break
            used.add(surface)
            if "gen" in mods:
                surface = genitive(surface)
        base = len(text)
        text += surface
        chunks = list(re.finditer(r"\S+", surface))
        for i, c in enumerate(chunks):
            spans.append((base + c.start(), base + c.end(), ("B-" if i == 0 else "I-") + label))
    add_literal(literal(template[pos:]))
    return text, [(text[s:e], tag or "O") for s, e, tag in spans]


def generate(seed: int) -> Dict[str, List[Tuple[str, List[Token]]]]:
    """Make all splits; every template is used in turn so all of them appear in train."""
    rng = random.Random(seed)
    sampler = Sampler(rng)
    seen: Set[str] = set()
    out: Dict[str, List[Tuple[str, List[Token]]]] = {}
    for split, size in SPLIT_SIZES.items():
        sentences: List[Tuple[str, List[Token]]] = []
        order: List[str] = []
        while len(sentences) < size:
            if not order:
                order = TEMPLATES[:]
                rng.shuffle(order)
            text, tokens = render(order.pop(), sampler, split)
            if text in seen:
                continue
            seen.add(text)
            sentences.append((text, tokens))
        out[split] = sentences
    return out


def write_split(path: Path, split: str, sentences: List[Tuple[str, List[Token]]]) -> None:
    lines: List[str] = []
    for i, (text, tokens) in enumerate(sentences, 1):
        lines.append(f"# sent_id = demo-{split}-{i}")
        lines.append(f"# text = {text}")
        lines.extend(f"{j}\t{form}\t{tag}" for j, (form, tag) in enumerate(tokens, 1))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf8")


def read_and_check(path: Path) -> List[Tuple[str, List[Token]]]:
    """Parse a written split independently of the generator and validate it.

    Checks: ids run 1..n, tokens rebuild `# text` with single spaces or nothing between
    them, tags are O or B-/I- with a known label, and I-X only continues B-X or I-X.
    """
    sentences: List[Tuple[str, List[Token]]] = []
    text: Optional[str] = None
    tokens: List[Token] = []
    problems: List[str] = []

    def finish(line_no: int) -> None:
        nonlocal text, tokens
        if text is None or not tokens:
            problems.append(f"{path}:{line_no}: sentence without text or tokens")
        else:
            rebuilt, rest = "", text
            for form, _ in tokens:
                gap = rest[: len(rest) - len(rest.lstrip(" "))]
                if gap not in ("", " ") or (not rebuilt and gap):
                    problems.append(f"{path}:{line_no}: bad spacing before {form!r}")
                rest = rest[len(gap):]
                if not rest.startswith(form):
                    problems.append(f"{path}:{line_no}: token {form!r} does not match text {rest[:20]!r}")
                    break
                rest = rest[len(form):]
                rebuilt += gap + form
            if rest:
                problems.append(f"{path}:{line_no}: text left over after tokens: {rest!r}")
            prev = "O"
            for form, tag in tokens:
                if tag != "O":
                    prefix, _, label = tag.partition("-")
                    if prefix not in ("B", "I") or label not in LABELS:
                        problems.append(f"{path}:{line_no}: invalid tag {tag!r}")
                    elif prefix == "I" and prev[2:] != label:
                        problems.append(f"{path}:{line_no}: {tag} does not continue {prev}")
                prev = tag
            sentences.append((text, tokens))
        text, tokens = None, []

    lines = path.read_text(encoding="utf8").split("\n")
    for line_no, line in enumerate(lines, 1):
        if line.startswith("# text = "):
            text = line[len("# text = "):]
        elif line.startswith("#"):
            continue
        elif not line.strip():
            if text is not None or tokens:
                finish(line_no)
        else:
            cols = line.split("\t")
            if len(cols) != 3 or cols[0] != str(len(tokens) + 1) or not cols[1] or " " in cols[1]:
                problems.append(f"{path}:{line_no}: expected ID<TAB>FORM<TAB>TAG, got {line!r}")
                continue
            tokens.append((cols[1], cols[2]))
    if text is not None or tokens:
        finish(len(lines))
    if problems:
        raise SystemExit("\n".join(problems))
    return sentences


def entity_spans(tokens: List[Token]) -> List[Tuple[str, str]]:
    """(label, surface) for each entity in a validated IOB2 sentence."""
    ents: List[Tuple[str, List[str]]] = []
    for form, tag in tokens:
        if tag.startswith("B-"):
            ents.append((tag[2:], [form]))
        elif tag.startswith("I-"):
            ents[-1][1].append(form)
    return [(label, " ".join(forms)) for label, forms in ents]


def readme(stats: Dict[str, Dict], seed: int) -> str:
    rows = []
    for split, s in stats.items():
        per_label = " | ".join(str(s["labels"].get(label, 0)) for label in LABELS)
        by_count = " / ".join(str(s["per_sentence"].get(n, 0)) for n in range(4))
        rows.append(f"| {split} | {s['sentences']} | {s['tokens']} | {s['entities']} | {per_label} "
                    f"| {by_count} | {s['unseen']} |")
    header = "| split | sentences | tokens | entities | " + " | ".join(LABELS) + \
        " | sentences with 0 / 1 / 2 / 3+ entities | entities unseen in train |"
    sep = "|" + "---|" * (6 + len(LABELS))
    return f"""# Danish demo corpus

A small named-entity corpus in Danish, written for this project so that the `demo`
workflow (`python -m spacy project run demo`) and the tests run offline on data the
project may redistribute. It is far too small and too regular to train a useful model;
it exists to exercise the whole pipeline quickly.

## Files

`train.iob2`, `dev.iob2`, `test.iob2`, in the UNER column style read by
`spacy-bert-ner convert`: per sentence a `# sent_id = demo-SPLIT-N` line, a `# text = ...`
line with the raw sentence, one token per line as `ID<TAB>FORM<TAB>IOB2-TAG`, and a blank
line between sentences. The tokens rebuild the `# text` line exactly, joined by a single
space or by nothing where punctuation is attached.

Labels: `PER` (people), `ORG` (companies, institutions, parties, clubs, media, universities,
museums, hospitals), `LOC` (cities, countries, regions, islands, rivers, seas, streets, roads,
bridges, buildings and sights, venues), `MISC` (festivals and other events, sports events and
championships, TV series, films, books, products, prizes). Nationality adjectives and
language names (`dansk`, `engelsk`), which Danish writes in lower case, are not entities.

## How it was made

Generated by `scripts/make_demo_corpus.py` (seed {seed}) from {len(TEMPLATES)} hand-written
sentence templates and lexicons of names; every template appears in train. The sentences
are original text written for this project, not taken or paraphrased from any existing
corpus. Many organisation, place and title names are real, but what the sentences say about
them is made up; person names are common first and last names combined at random (no real
person is meant), and some company, book and series names are invented. About a quarter of
every lexicon is held out of train and dev/test draw half their entities from it, so the
test split measures generalisation to unseen names rather than only memorised strings
(last column below: entities whose label and text never occur in train). No dev or test
sentence repeats a train sentence. Regenerate with

    python scripts/make_demo_corpus.py --out assets/demo

which also re-reads the files and checks that the tokens rebuild each `# text` line and
that the tags are valid IOB2.

## Counts

{header}
{sep}
{chr(10).join(rows)}

## Licence

Same as the project: MIT.
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(__file__).resolve().parent.parent / "assets" / "demo"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for split, sentences in generate(args.seed).items():
        write_split(args.out / f"{split}.iob2", split, sentences)
    stats: Dict[str, Dict] = {}
    train_surfaces: Set[Tuple[str, str]] = set()
    for split in SPLIT_SIZES:
        sentences = read_and_check(args.out / f"{split}.iob2")
        ents = [e for _, toks in sentences for e in entity_spans(toks)]
        if split == "train":
            train_surfaces = set(ents)
        stats[split] = {
            "sentences": len(sentences),
            "tokens": sum(len(toks) for _, toks in sentences),
            "entities": len(ents),
            "labels": Counter(label for label, _ in ents),
            "per_sentence": Counter(min(len(entity_spans(toks)), 3) for _, toks in sentences),
            "unseen": "-" if split == "train" else sum(1 for e in ents if e not in train_surfaces),
        }
    (args.out / "README.md").write_text(readme(stats, args.seed), encoding="utf8")
    for split, s in stats.items():
        labels = ", ".join(f"{label} {s['labels'].get(label, 0)}" for label in LABELS)
        print(f"{split}: {s['sentences']} sentences, {s['tokens']} tokens, {s['entities']} entities "
              f"({labels}), unseen in train: {s['unseen']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
