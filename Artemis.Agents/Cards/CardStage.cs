using System.Text.Json.Serialization;

namespace Artemis.Agents.Cards;

/// <summary>
/// Where a card is: <c>Queued → Planning → Developing → Arbitrating → Done | Failed | Cancelled</c>. Stored by name
/// in <c>cards.stage</c> and shown by name in the API.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<CardStage>))]
public enum CardStage
{
    Queued,
    Planning,
    Developing,
    Arbitrating,
    Done,
    Failed,
    Cancelled,
}

public static class CardStages
{
    /// <summary>The stages a card leaves only by finishing: the ones that can be cancelled and that the supervisor works on.</summary>
    public static readonly IReadOnlyList<CardStage> Unfinished = [CardStage.Queued, CardStage.Planning, CardStage.Developing, CardStage.Arbitrating];

    public static bool IsFinished(this CardStage stage) => stage is CardStage.Done or CardStage.Failed or CardStage.Cancelled;

    /// <summary>Parses a stage name as the API accepts it: a name, in any case; never a number.</summary>
    public static bool TryParse(string? text, out CardStage stage)
    {
        var name = Enum.GetNames<CardStage>().FirstOrDefault(name => name.Equals(text?.Trim(), StringComparison.OrdinalIgnoreCase));
        stage = name is null ? default : Enum.Parse<CardStage>(name);
        return name is not null;
    }
}
