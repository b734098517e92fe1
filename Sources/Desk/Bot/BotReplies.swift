import Foundation

/// The bot's own sentences (everything it says that is not an FAQ answer), in English and German.
/// Plain functions of their inputs, so a test can check every one.
public enum BotReplies {
    public static func greeting(_ l: BotLanguage) -> String {
        switch l {
        case .english: "Hello! I'm the shop's assistant. Ask me anything — or write “person” to talk to someone from our team."
        case .german:
            "Hallo! Ich bin der digitale Assistent des Shops. Fragen Sie mich gern – oder schreiben Sie „Mitarbeiter“, um mit jemandem aus unserem Team zu sprechen."
        }
    }

    public static func thanks(_ l: BotLanguage) -> String {
        switch l {
        case .english: "You're welcome! Anything else I can help with?"
        case .german: "Gern geschehen! Kann ich sonst noch helfen?"
        }
    }

    public static func gladItHelped(_ l: BotLanguage) -> String {
        switch l {
        case .english: "Glad that helped! Anything else?"
        case .german: "Schön, dass das geholfen hat! Noch etwas?"
        }
    }

    public static func askForOrderNumber(_ l: BotLanguage) -> String {
        switch l {
        case .english: "I can look that up. What's your order number? (for example #12345)"
        case .german: "Das schaue ich gern nach. Wie lautet Ihre Bestellnummer? (zum Beispiel #12345)"
        }
    }

    public static func order(_ status: OrderStatus, _ l: BotLanguage) -> String {
        let state: String
        switch (status.state, l) {
        case (.received, .english): state = "has been received"
        case (.processing, .english): state = "is being prepared"
        case (.shipped, .english): state = "has been shipped"
        case (.delivered, .english): state = "has been delivered"
        case (.cancelled, .english): state = "has been cancelled"
        case (.returned, .english): state = "has been returned to us"
        case (.received, .german): state = "ist bei uns eingegangen"
        case (.processing, .german): state = "wird gerade vorbereitet"
        case (.shipped, .german): state = "wurde versandt"
        case (.delivered, .german): state = "wurde zugestellt"
        case (.cancelled, .german): state = "wurde storniert"
        case (.returned, .german): state = "ist an uns zurückgegangen"
        }
        let detail = status.detail.map { " " + $0 } ?? ""
        switch l {
        case .english: return "Your order #\(status.orderID) \(state).\(detail)"
        case .german: return "Ihre Bestellung #\(status.orderID) \(state).\(detail)"
        }
    }

    public static func orderNotFound(_ id: String, _ l: BotLanguage) -> String {
        switch l {
        case .english:
            "I couldn't find order #\(id). Please check the number and send it again — or would you like to talk to a person?"
        case .german:
            "Ich konnte die Bestellung #\(id) nicht finden. Bitte prüfen Sie die Nummer und senden Sie sie noch einmal – oder möchten Sie mit einem Mitarbeiter sprechen?"
        }
    }

    public static func orderLookupUnavailable(_ l: BotLanguage) -> String {
        switch l {
        case .english: "I can't look up orders right now. Would you like to talk to a person?"
        case .german: "Ich kann Bestellungen gerade nicht abrufen. Möchten Sie mit einem Mitarbeiter sprechen?"
        }
    }

    public static func rephrase(_ l: BotLanguage) -> String {
        switch l {
        case .english: "Sorry that didn't help. Could you put your question another way? Or would you like to talk to a person?"
        case .german:
            "Entschuldigung, das hat nicht geholfen. Können Sie Ihre Frage anders formulieren? Oder möchten Sie mit einem Mitarbeiter sprechen?"
        }
    }

    public static func personDeclined(_ l: BotLanguage) -> String {
        switch l {
        case .english: "All right. What else can I help with?"
        case .german: "In Ordnung. Wobei kann ich sonst helfen?"
        }
    }

    /// "We're open now until 18:00. Our hours (Europe/Berlin time): Mon–Fri 09:00–18:00; Sat
    /// 10:00–14:00; Sun closed."
    public static func openingHours(_ hours: BusinessHours, at now: Date, _ l: BotLanguage) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = hours.timeZone
        func clock(_ date: Date) -> String {
            let c = calendar.dateComponents([.hour, .minute], from: date)
            return (try? BusinessHours.TimeOfDay(hour: c.hour ?? 0, minute: c.minute ?? 0).description) ?? ""
        }
        func day(_ date: Date) -> String {
            let days = calendar.dateComponents(
                [.day], from: calendar.startOfDay(for: now), to: calendar.startOfDay(for: date)
            ).day ?? 0
            let weekday = BusinessHours.Weekday(rawValue: calendar.component(.weekday, from: date)) ?? .monday
            switch (days, l) {
            case (0, .english): return "today"
            case (1, .english): return "tomorrow"
            case (2...6, .english): return "on " + Self.dayName(weekday, l)
            case (0, .german): return "heute"
            case (1, .german): return "morgen"
            case (2...6, .german): return "am " + Self.dayName(weekday, l)
            default:
                let c = calendar.dateComponents([.year, .month, .day], from: date)
                let d = (try? BusinessHours.LocalDate(year: c.year ?? 0, month: c.month ?? 0, day: c.day ?? 0))?.description ?? ""
                return l == .english ? "on \(d)" : "am \(d)"
            }
        }
        let state: String
        if hours.isOpen(at: now) {
            if let closing = hours.nextClosing(after: now) {
                state = l == .english ? "We're open now until \(clock(closing))." : "Wir sind jetzt bis \(clock(closing)) Uhr für Sie da."
            } else {
                state = l == .english ? "We're open now." : "Wir sind jetzt für Sie da."
            }
        } else if let opening = hours.nextOpening(after: now) {
            state =
                l == .english
                ? "We're closed right now; we open again \(day(opening)) at \(clock(opening))."
                : "Wir sind gerade nicht erreichbar, wieder \(day(opening)) ab \(clock(opening)) Uhr."
        } else {
            state = l == .english ? "We're closed." : "Wir sind derzeit nicht erreichbar."
        }
        let zone = hours.timeZone.identifier
        let intro = l == .english ? " Our hours (\(zone) time): " : " Unsere Zeiten (Zeitzone \(zone)): "
        return state + intro + weekSummary(hours, l) + "."
    }

    /// "Mon–Fri 09:00–18:00; Sat 10:00–14:00; Sun closed": consecutive days with the same hours
    /// grouped, Monday first.
    public static func weekSummary(_ hours: BusinessHours, _ l: BotLanguage) -> String {
        let days = BusinessHours.Weekday.mondayFirst
        var groups: [(first: BusinessHours.Weekday, last: BusinessHours.Weekday, intervals: [BusinessHours.Interval])] = []
        for d in days {
            let intervals = hours.week[d] ?? []
            if let last = groups.last, last.intervals == intervals {
                groups[groups.count - 1].last = d
            } else {
                groups.append((d, d, intervals))
            }
        }
        return groups.map { g in
            let name = g.first == g.last ? shortName(g.first, l) : "\(shortName(g.first, l))–\(shortName(g.last, l))"
            let times =
                g.intervals.isEmpty
                ? (l == .english ? "closed" : "geschlossen")
                : g.intervals.map { "\($0.open)–\($0.close)" }.joined(separator: ", ")
            return "\(name) \(times)"
        }.joined(separator: "; ")
    }

    static func dayName(_ d: BusinessHours.Weekday, _ l: BotLanguage) -> String {
        let en = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let de = ["Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"]
        return (l == .english ? en : de)[d.rawValue - 1]
    }

    static func shortName(_ d: BusinessHours.Weekday, _ l: BotLanguage) -> String {
        let en = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let de = ["So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"]
        return (l == .english ? en : de)[d.rawValue - 1]
    }
}
