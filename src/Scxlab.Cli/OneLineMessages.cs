namespace Scxlab.Cli;

/// <summary>
/// Keeps every message written with WriteLine on one line (an exception message may quote a file's
/// content), so errors stay one line on stderr whatever produced them.
/// </summary>
internal sealed class OneLineMessages(TextWriter inner) : TextWriter
{
    public override System.Text.Encoding Encoding => inner.Encoding;
    public override void Write(char value) => inner.Write(value);
    public override void Write(string? value) => inner.Write(value);
    public override void WriteLine(string? value) =>
        inner.WriteLine(value == null ? null : Scenarios.InputText.OneLine(value));
    public override void Flush() => inner.Flush();
}
