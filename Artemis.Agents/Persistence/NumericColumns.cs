namespace Artemis.Agents.Persistence;

/// <summary>Values read from Postgres <c>numeric</c> columns, as the API shows them.</summary>
internal static class NumericColumns
{
    /// <summary>
    /// numeric(20, 10) reads back as 1.5000000000; the API shows 1.5 (the division keeps the value, drops the zeros).
    /// </summary>
    public static decimal WithoutTrailingZeros(decimal value) => value / 1.0000000000000000000000000000m;
}
