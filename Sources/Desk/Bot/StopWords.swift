/// The small per-language lists of words ``Tokenizer`` drops before search: function words, and
/// the filler a shopper wraps a question in ("hi", "please", "can you tell me", "bitte"). Each
/// list is written naturally and stored folded (``Tokenizer``'s step 2–3: "für" → `fur`), and
/// matched before German transcription.
///
/// Kept short on purpose (~210 words each): a word missing here costs a little ranking noise,
/// a content word wrongly here ("hat" — German "has", English headwear) costs an answer. So
/// words that are content in the other language stay out of that language's list, and a text
/// of unknown language drops both lists.
public enum StopWords {
    public static let english: Set<String> = folded(
        """
        a about above after again against all also am an and any are as at be because been before being
        below between both but by can cannot could did do does doing done during each either else ever every
        few for from further get gets getting got had has have having he her here hers herself him himself his
        how however i if in into is it its itself just let me might mine more most must my myself need needs
        neither no nor not now of off on once only or other otherwise our ours ourselves own per please pls plz
        rather really same shall she should so some such than that the their theirs them themselves then
        there these they this those though through to too under until upon us very via was we were what
        whatever when whenever where whether which while who whom whose why will with within would you your
        yours yourself yourselves im ive id ill youre youve dont doesnt didnt cant couldnt wont wouldnt isnt
        arent wasnt werent hasnt havent hadnt shouldnt thats theres whats hows wheres
        hi hello hey thanks thank thx ok okay dear team
        want wanted wanting like would know tell ask asking wondering wonder help question something anything
        maybe possible possibly quick quickly still yet much many
        """)

    public static let german: Set<String> = folded(
        """
        aber als also am an andere anderen auch auf aus bei beim bin bis bist bitte da dabei damit dann
        darf das dass dem den denn der des dessen dich die dies diese diesem diesen dieser dieses dir doch
        dort du durch ein eine einem einen einer eines er es etwa etwas euch euer eure eurem euren eurer
        für gegen gibt hab habe haben habt hast hat hatte hätte hätten ich ihm ihn ihnen ihr ihre ihrem ihren ihrer
        im in ins ist ja jede jedem jeden jeder jedes jetzt kann kannst können könnt könnte könnten man
        mein meine meinem meinen meiner mich mir mit muss musst müssen nach nicht nichts noch nun nur ob
        oder ohne sehr sein seine seinem seinen seiner sich sie sind so soll sollen sollte sonst über um
        und uns unser unsere unserem unseren unserer unter viel vom von vor war waren warum was weil welche
        welchem welchen welcher welches wenn wer werde werden wie wieso wieviel wir wird wirst wo wollen
        wollte würde würden zu zum zur
        hallo hi hey moin servus guten tag danke dank vielen ok okay liebe lieber liebes team
        möchte möchten will brauche frage fragen gerne gern mal eigentlich gerade schon wissen helfen hilfe
        irgendwie vielleicht bzw usw
        """)

    /// Both lists: for a text whose language the bot has no list for.
    public static let all: Set<String> = english.union(german)

    /// The list for `language`; both for `nil`.
    public static func set(for language: BotLanguage?) -> Set<String> {
        switch language {
        case .english: english
        case .german: german
        case nil: all
        }
    }

    /// The lists as UTF-8, for ``Tokenizer``'s hot path.
    static func bytes(for language: BotLanguage?) -> Set<[UInt8]> {
        switch language {
        case .english: englishBytes
        case .german: germanBytes
        case nil: allBytes
        }
    }
    private static let englishBytes = Set(english.map { Array($0.utf8) })
    private static let germanBytes = Set(german.map { Array($0.utf8) })
    private static let allBytes = Set(all.map { Array($0.utf8) })

    private static func folded(_ list: String) -> Set<String> {
        Set(list.split(whereSeparator: \.isWhitespace).flatMap { Tokenizer.words(String($0)) })
    }
}
