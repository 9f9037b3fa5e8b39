"""Text the IFEval composer builds from: topics with plain facts, task phrasings, and two
families of constraint phrasings (family A for the pool and eval set, family B only for
the held-out set). Written for mosaic; facts are general knowledge, kept short and
comma-light so that constraints such as "no commas" leave them readable.
"""

from __future__ import annotations

TOPICS: dict[str, tuple[str, ...]] = {
    "honeybees": (
        "Honeybees live in colonies that can hold tens of thousands of workers.",
        "A single queen lays the eggs while worker bees gather nectar and pollen.",
        "Bees turn nectar into honey by adding enzymes and fanning away the water.",
        "The waggle dance tells other workers the direction and distance of flowers.",
        "Many fruit and nut crops depend on bees for pollination.",
        "Beekeepers check their hives for pests and disease during the warm months.",
    ),
    "the bicycle": (
        "Early bicycles in the nineteenth century had no pedals at all.",
        "The safety bicycle with two equal wheels and a chain drive appeared in the 1880s.",
        "Pneumatic tyres made riding far more comfortable on rough roads.",
        "A bicycle converts human effort into motion more efficiently than walking.",
        "Gears let riders keep a steady pedalling rhythm on hills and flats.",
        "Many cities now build protected lanes so that people can cycle safely.",
    ),
    "volcanoes": (
        "A volcano forms where molten rock reaches the surface of the Earth.",
        "Most volcanoes sit along the edges of tectonic plates.",
        "Shield volcanoes have gentle slopes built from runny lava flows.",
        "Stratovolcanoes are steep and can erupt explosively.",
        "Volcanic ash can ground aircraft hundreds of kilometres away.",
        "Scientists watch for small earthquakes and gas changes before eruptions.",
    ),
    "sourdough bread": (
        "Sourdough rises thanks to wild yeast and bacteria living in a starter.",
        "A starter is fed with flour and water to keep it active.",
        "The bacteria produce acids that give the bread its tangy flavour.",
        "Long fermentation develops flavour and makes the crumb more open.",
        "Bakers often score the loaf so that it expands in a controlled way.",
        "A hot oven with steam helps the crust turn crisp and glossy.",
    ),
    "the water cycle": (
        "The water cycle moves water between the oceans the air and the land.",
        "Sunlight warms the surface and water evaporates into vapour.",
        "Vapour cools as it rises and condenses into clouds.",
        "Rain and snow return the water to the ground.",
        "Rivers and groundwater carry much of it back to the sea.",
        "Plants also release water vapour through their leaves.",
    ),
    "chess openings": (
        "An opening is the first phase of a chess game.",
        "Good openings develop the knights and bishops quickly.",
        "Controlling the centre gives pieces more room to move.",
        "Castling early usually keeps the king safer.",
        "Popular openings have names such as the Sicilian and the Ruy Lopez.",
        "Beginners gain more from learning principles than from memorising long lines.",
    ),
    "the moon": (
        "The Moon is the only natural satellite of the Earth.",
        "It always shows the same face to us because of tidal locking.",
        "Its gravity drives most of the tides in the oceans.",
        "The phases come from how much of the sunlit side we can see.",
        "Astronauts first walked on the Moon in 1969.",
        "Its surface is covered in craters and fine grey dust.",
    ),
    "composting": (
        "Composting turns kitchen scraps and garden waste into rich soil.",
        "Microbes break down the material and release heat.",
        "A good heap mixes green material with brown material such as dry leaves.",
        "Turning the pile lets in air and speeds up the process.",
        "Finished compost smells earthy and crumbles in the hand.",
        "Gardeners spread it on beds to feed plants and hold moisture.",
    ),
    "the printing press": (
        "Johannes Gutenberg built a movable type press in the fifteenth century.",
        "Movable type let printers reuse letters for many different pages.",
        "Books became cheaper and far more common after its spread.",
        "Printed pamphlets helped new ideas travel quickly across Europe.",
        "Literacy rose as more people gained access to books.",
        "Printing shops became centres of trade and learning in many towns.",
    ),
    "octopuses": (
        "Octopuses have eight arms lined with sensitive suckers.",
        "They can change the colour and texture of their skin in a moment.",
        "Much of their nervous system sits in their arms.",
        "They solve puzzles and can open jars in aquariums.",
        "Most octopuses live only a year or two.",
        "They escape predators with ink clouds and quick jets of water.",
    ),
    "solar panels": (
        "Solar panels turn sunlight directly into electricity.",
        "Most panels use cells made from silicon.",
        "Light knocks electrons loose and creates a flow of current.",
        "An inverter changes the current so that homes can use it.",
        "Panels work best when they face the sun without shade.",
        "Their price has fallen sharply over the last two decades.",
    ),
    "the Roman aqueducts": (
        "Roman aqueducts carried fresh water into cities from distant springs.",
        "They relied on a gentle downhill slope over many kilometres.",
        "Much of each channel ran underground rather than on arches.",
        "The famous arches carried water across valleys.",
        "The water supplied public baths fountains and homes.",
        "Some aqueducts still carry water today.",
    ),
    "sleep": (
        "Adults usually need around seven to nine hours of sleep.",
        "Sleep moves through light deep and dreaming stages during the night.",
        "Deep sleep helps the body repair itself.",
        "Dreaming sleep plays a part in memory and mood.",
        "A regular bedtime makes it easier to fall asleep.",
        "Bright screens late at night can delay sleepiness.",
    ),
    "coral reefs": (
        "Coral reefs are built by tiny animals called polyps.",
        "Algae living inside the corals supply them with food.",
        "Reefs shelter about a quarter of all known ocean species.",
        "Warm water can cause corals to lose their algae and bleach.",
        "Reefs protect coastlines by breaking the force of waves.",
        "Many reefs are now protected as marine parks.",
    ),
    "the piano": (
        "The piano was invented in Italy around the year 1700.",
        "Pressing a key makes a felt hammer strike a string.",
        "A standard piano has eighty-eight keys.",
        "Its name comes from its ability to play both soft and loud.",
        "Pedals let players sustain notes or soften the sound.",
        "Composers such as Chopin wrote much of their music for it.",
    ),
    "maps": (
        "Maps shrink the world onto a flat surface at a chosen scale.",
        "Every flat map distorts shape area or distance in some way.",
        "A legend explains the symbols used on a map.",
        "Contour lines show the height of the land.",
        "Satellite images have made modern maps very precise.",
        "Digital maps can update traffic and routes in real time.",
    ),
    "tea": (
        "Tea comes from the leaves of the Camellia sinensis plant.",
        "Green tea is dried quickly so that the leaves do not oxidise.",
        "Black tea is fully oxidised which darkens the leaves.",
        "Tea was drunk in China for centuries before it reached Europe.",
        "Water temperature and steeping time change the taste.",
        "Herbal drinks are often called tea even though they use other plants.",
    ),
    "rainbows": (
        "A rainbow appears when sunlight passes through raindrops.",
        "Each drop bends and reflects the light inside it.",
        "Different colours bend by slightly different amounts.",
        "You see a rainbow with the sun behind you.",
        "A fainter second bow sometimes appears with its colours reversed.",
        "From an aircraft a rainbow can look like a full circle.",
    ),
    "libraries": (
        "Public libraries lend books to anyone with a card.",
        "Many libraries also offer computers and free classes.",
        "Librarians help people find reliable information.",
        "Ancient libraries such as the one in Alexandria collected scrolls.",
        "Catalogues help readers find a book on the shelves.",
        "Quiet reading rooms give students a place to study.",
    ),
    "recycling": (
        "Recycling turns used materials into new products.",
        "Aluminium cans can be recycled again and again.",
        "Sorting waste at home keeps the recycling stream clean.",
        "Recycled paper needs less energy than paper from new trees.",
        "Some plastics are hard to recycle and end up in landfill.",
        "Reducing and reusing items saves even more resources.",
    ),
    "penguins": (
        "Penguins are birds that cannot fly but swim very well.",
        "Most species live in the southern half of the world.",
        "Their dense feathers keep them warm in icy water.",
        "Emperor penguins huddle together through the winter.",
        "Parents take turns keeping the egg warm.",
        "They eat fish krill and squid.",
    ),
    "the telescope": (
        "Early telescopes appeared in the Netherlands in the early 1600s.",
        "Galileo used one to see the moons of Jupiter.",
        "Refracting telescopes use lenses to gather light.",
        "Reflecting telescopes use curved mirrors instead.",
        "Larger mirrors collect more light and show fainter objects.",
        "Space telescopes avoid the blurring caused by the air.",
    ),
    "gardening for beginners": (
        "New gardeners do well to start with a few easy plants.",
        "Most vegetables need at least six hours of sunlight a day.",
        "Healthy soil holds water and feeds the roots.",
        "Watering deeply but less often encourages strong roots.",
        "Mulch keeps the soil moist and holds back weeds.",
        "Keeping a simple notebook helps you learn from each season.",
    ),
    "the human heart": (
        "The heart is a muscle that pumps blood around the body.",
        "It has four chambers called atria and ventricles.",
        "Valves keep blood flowing in one direction.",
        "A resting adult heart beats roughly sixty to one hundred times a minute.",
        "Regular exercise makes the heart stronger.",
        "The heart has its own electrical system that sets the rhythm.",
    ),
    "trains": (
        "The first public steam railways opened in the early nineteenth century.",
        "Railways cut travel times between cities dramatically.",
        "Modern high speed trains can exceed three hundred kilometres an hour.",
        "Electric trains draw power from overhead wires or a third rail.",
        "Freight trains carry heavy goods with little fuel per tonne.",
        "Standard time zones grew partly out of railway timetables.",
    ),
    "origami": (
        "Origami is the art of folding paper into shapes.",
        "Traditional origami uses a single square sheet without cuts.",
        "The paper crane is one of the best known models.",
        "Folding patterns have inspired engineers who design solar arrays.",
        "Simple models teach patience and careful hand work.",
        "Some artists fold models with hundreds of steps.",
    ),
    "the Great Wall of China": (
        "The Great Wall is a series of walls built over many centuries.",
        "Much of what visitors see today dates from the Ming dynasty.",
        "Builders used earth wood stone and later bricks.",
        "Watchtowers let guards send signals with smoke and fire.",
        "The wall crosses mountains deserts and grasslands.",
        "It is now one of the most visited landmarks in the world.",
    ),
    "clouds": (
        "Clouds are made of tiny water droplets or ice crystals.",
        "Cumulus clouds look like puffy heaps of cotton.",
        "Stratus clouds form flat grey layers.",
        "Cirrus clouds are thin wisps high in the sky.",
        "Tall cumulonimbus clouds can bring thunderstorms.",
        "Watching clouds can hint at the weather to come.",
    ),
    "electric cars": (
        "Electric cars run on batteries instead of petrol or diesel.",
        "Their motors deliver strong acceleration from a standstill.",
        "Regenerative braking recovers some energy when slowing down.",
        "Charging at home overnight suits many daily routines.",
        "Fast chargers can add a large range in under an hour.",
        "Battery costs have fallen as production has grown.",
    ),
    "the Olympic Games": (
        "The ancient Olympic Games were held in Greece in honour of Zeus.",
        "The modern Games began in Athens in 1896.",
        "Summer and Winter Games now alternate every two years.",
        "The five rings stand for the continents taking part.",
        "A torch relay carries the flame to the host city.",
        "Athletes from more than two hundred nations compete.",
    ),
    "mushrooms": (
        "Mushrooms are the fruiting bodies of fungi.",
        "Most of a fungus lives hidden as threads in soil or wood.",
        "Fungi recycle nutrients by breaking down dead material.",
        "Many plants trade sugars with fungi through their roots.",
        "Some mushrooms are prized in cooking.",
        "Spores released from the cap spread the fungus.",
    ),
    "the alphabet": (
        "Alphabets write the sounds of a language with a small set of letters.",
        "The Phoenicians used an early alphabet of consonants.",
        "The Greeks added letters for vowel sounds.",
        "The Latin alphabet spread with the Roman Empire.",
        "Today it is used by hundreds of languages.",
        "Learning letters and their sounds is a first step in reading.",
    ),
    "wind turbines": (
        "Wind turbines turn moving air into electricity.",
        "The blades spin a shaft connected to a generator.",
        "Taller towers reach stronger and steadier winds.",
        "Offshore wind farms take advantage of winds over the sea.",
        "A control system turns the blades to face the wind.",
        "Wind power is now a major source of electricity in several countries.",
    ),
    "the violin": (
        "The violin is the smallest and highest pitched member of its family.",
        "It has four strings tuned a fifth apart.",
        "Players draw a bow strung with horsehair across the strings.",
        "Famous makers worked in the Italian town of Cremona.",
        "The violin leads the melody in many orchestras.",
        "Folk fiddlers play the same instrument in lively dance styles.",
    ),
    "deserts": (
        "Deserts receive very little rain each year.",
        "Not every desert is hot and some are covered in ice.",
        "Desert plants store water in thick stems and leaves.",
        "Many desert animals rest by day and move at night.",
        "Wind shapes sand into dunes that slowly travel.",
        "Temperatures can swing widely between day and night.",
    ),
    "public speaking": (
        "Good speakers know their main message before they begin.",
        "Practising out loud builds confidence.",
        "A short story can hold the attention of an audience.",
        "Pausing briefly gives listeners time to think.",
        "Eye contact helps people feel included.",
        "Nervousness often fades once the talk is under way.",
    ),
}
"""Topic -> facts. Topics are the IFEval "seed requests": pool, eval and held-out sets
never share one."""

KEYWORD_CANDIDATES_MIN_LEN = 5
"""Keywords and frequency words are drawn from a topic's facts: words at least this long."""

FORBIDDEN_CANDIDATES = (
    "amazing", "basically", "literally", "obviously", "incredible", "awesome", "stuff",
    "thing", "really", "very", "actually", "simply", "great", "nice", "huge", "totally",
)
"""Words a prompt may forbid (chosen only when absent from the gold response)."""

END_PHRASES = (
    "Is there anything else I can help with?", "Let me know if you have additional questions.",
    "Thanks for reading.", "Hope this helps.", "That is all for now.",
)
POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")
POSTSCRIPTS = ("There is always more to discover about {topic}.",
               "A library is a good place to read more about {topic}.",
               "I enjoyed putting this together.", "Feel free to share this with a friend.")
PLACEHOLDERS = ("[name]", "[date]", "[city]", "[address]", "[email]", "[phone number]")
CAPITAL_WORDS = ("NOTE", "IMPORTANT", "KEY", "TIP", "FACT", "REMEMBER")
SECTION_SPLITTERS = ("Section", "SECTION", "Part", "PART")
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")

# ---------------------------------------------------------------------------------------
# Tasks: what the prompt asks for before its constraints. {topic} is filled in.

TASKS_A = (
    "Write a short article about {topic}.",
    "Explain {topic} to a curious teenager.",
    "Write a blog post about {topic}.",
    "Give me an overview of {topic}.",
    "Write a few paragraphs for a school newsletter about {topic}.",
    "Describe {topic} for someone who knows nothing about it.",
    "Write an encyclopedia-style entry on {topic}.",
    "Summarise the key facts about {topic}.",
)
TASKS_B = (
    "Draft the text for a museum placard about {topic}.",
    "Compose a short radio segment script introducing {topic}.",
    "Prepare talking points for a five-minute class presentation on {topic}.",
    "Write the welcome text for a beginners' guide to {topic}.",
)
YES_NO_A = (
    "Is {topic} worth learning about?",
    "Would you recommend reading more about {topic}?",
)
YES_NO_B = ("Should a school club spend a meeting on {topic}?",)

# ---------------------------------------------------------------------------------------
# Constraint phrasings. Each takes the instruction's kwargs (plus a few derived names).
# Family A: pool and eval set. Family B: held-out set only.

PHRASES_A: dict[str, tuple[str, ...]] = {
    "keywords:existence": ("Include the keywords {keywords_list} in the response.",
                           "Make sure to use the words {keywords_list}."),
    "keywords:frequency": ("The word \"{keyword}\" should appear {relation} {frequency} times.",
                           "Use the word \"{keyword}\" {relation} {frequency} times."),
    "keywords:forbidden_words": ("Do not include the words {forbidden_list} in the response.",
                                 "Avoid the words {forbidden_list}."),
    "keywords:letter_frequency": (
        "The letter \"{letter}\" should appear {let_relation} {let_frequency} times.",
        "In your response, the letter {letter} should appear {let_relation} {let_frequency} "
        "times."),
    "length_constraints:number_sentences": (
        "Your response should contain {relation} {num_sentences} sentences.",
        "Answer with {relation} {num_sentences} sentences."),
    "length_constraints:number_words": ("Answer with {relation} {num_words} words.",
                                        "Your response should contain {relation} {num_words} "
                                        "words."),
    "length_constraints:number_paragraphs": (
        "There should be {num_paragraphs} paragraphs. Paragraphs are separated with the "
        "markdown divider: ***",
        "Write exactly {num_paragraphs} paragraphs separated by the markdown divider ***."),
    "length_constraints:nth_paragraph_first_word": (
        "There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are "
        "separated with each other by two new lines. The {nth_ordinal} paragraph must start "
        "with the word \"{first_word}\".",),
    "detectable_content:number_placeholders": (
        "The response must contain at least {num_placeholders} placeholders represented by "
        "square brackets, such as [address].",),
    "detectable_content:postscript": (
        "At the end of your response, please explicitly add a postscript starting with "
        "{postscript_marker}",
        "End with a postscript that starts with {postscript_marker}"),
    "detectable_format:number_bullet_lists": (
        "Your answer must contain exactly {num_bullets} bullet points. Use the markdown "
        "bullet points such as:\n* This is point 1.\n* This is point 2",
        "Include exactly {num_bullets} bullet points in markdown format."),
    "detectable_format:constrained_response": (
        "Answer with one of the following options: ('My answer is yes.', 'My answer is no.', "
        "'My answer is maybe.')",),
    "detectable_format:number_highlighted_sections": (
        "Highlight at least {num_highlights} sections in your answer with markdown, i.e. "
        "*highlighted section*.",),
    "detectable_format:multiple_sections": (
        "Your response must have {num_sections} sections. Mark the beginning of each section "
        "with {section_spliter} X, such as: {section_spliter} 1",),
    "detectable_format:json_format": ("Entire output should be wrapped in JSON format.",),
    "detectable_format:title": ("Your answer must contain a title, wrapped in double angular "
                                "brackets, such as <<poem of joy>>.",),
    "combination:two_responses": ("Give two different responses. Responses and only responses "
                                  "should be separated by 6 asterisk symbols: ******.",),
    "combination:repeat_prompt": ("First repeat the first sentence of this message word for "
                                  "word without change, then give your answer (do not say "
                                  "anything before repeating it).",),
    "startend:end_checker": ("Finish your response with this exact phrase: {end_phrase}. No "
                             "other words should follow this phrase.",
                             "End your response with the exact phrase \"{end_phrase}\"."),
    "change_case:capital_word_frequency": (
        "In your response, words with all capital letters should appear {capital_relation} "
        "{capital_frequency} times.",),
    "change_case:english_capital": ("Your entire response should be in English, and in all "
                                    "capital letters.",),
    "change_case:english_lowercase": ("Your entire response should be in English, and in all "
                                      "lowercase letters. No capital letters are allowed.",),
    "punctuation:no_comma": ("In your entire response, refrain from the use of any commas.",
                             "Do not use any commas in your response."),
    "startend:quotation": ("Wrap your entire response with double quotation marks.",),
}

PHRASES_B: dict[str, tuple[str, ...]] = {
    "keywords:existence": ("Somewhere in your text, work in the terms {keywords_list}.",),
    "keywords:frequency": ("Mention \"{keyword}\" {relation} {frequency} times overall.",),
    "keywords:forbidden_words": ("Steer clear of these words entirely: {forbidden_list}.",),
    "keywords:letter_frequency": ("Count your letters: \"{letter}\" must occur {let_relation} "
                                  "{let_frequency} times.",),
    "length_constraints:number_sentences": ("Keep the sentence count at {relation} "
                                            "{num_sentences}.",),
    "length_constraints:number_words": ("Your word count must be {relation} {num_words}.",),
    "length_constraints:number_paragraphs": ("Organise it into {num_paragraphs} blocks of "
                                             "text, with a line holding only *** between "
                                             "blocks.",),
    "length_constraints:nth_paragraph_first_word": (
        "Use {num_paragraphs} paragraphs split by blank lines, and open paragraph number "
        "{nth_paragraph} with \"{first_word}\".",),
    "detectable_content:number_placeholders": ("Leave {num_placeholders} or more fill-in "
                                               "blanks written in square brackets like "
                                               "[name].",),
    "detectable_content:postscript": ("Close with an afterthought introduced by "
                                      "{postscript_marker}",),
    "detectable_format:number_bullet_lists": ("Present precisely {num_bullets} points as a "
                                              "markdown list using * at the start of each.",),
    "detectable_format:constrained_response": ("Reply using one of these verdicts: "
                                               "'My answer is yes.', 'My answer is no.' or "
                                               "'My answer is maybe.'",),
    "detectable_format:number_highlighted_sections": ("Mark {num_highlights} or more phrases "
                                                      "in *italics with asterisks*.",),
    "detectable_format:multiple_sections": ("Split the text into {num_sections} parts, "
                                            "each introduced as {section_spliter} N.",),
    "detectable_format:json_format": ("Return the whole answer as valid JSON.",),
    "detectable_format:title": ("Put a headline at the top between << and >>.",),
    "combination:two_responses": ("Offer two alternative versions, with ****** on its own "
                                  "between them.",),
    "combination:repeat_prompt": ("Begin by restating my first sentence exactly as written, "
                                  "then continue.",),
    "startend:end_checker": ("The very last words must be: {end_phrase}",),
    "change_case:capital_word_frequency": ("Use fully capitalised words {capital_relation} "
                                           "{capital_frequency} times.",),
    "change_case:english_capital": ("Write everything in English using UPPERCASE letters "
                                    "only.",),
    "change_case:english_lowercase": ("Write everything in English using lowercase letters "
                                      "only.",),
    "punctuation:no_comma": ("Commas are not allowed anywhere.",),
    "startend:quotation": ("Put the complete answer inside one pair of double quotes.",),
}
