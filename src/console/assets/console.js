// The console works without this script: values are selectable text, times are shown in
// UTC, and the expiry date field is always there. With it:

// Copy buttons: data-copy names the element whose value or text is copied, or
// data-copy-text holds the text itself. They are hidden until this script runs.
document.querySelectorAll("button.copy[hidden]").forEach((button) => { button.hidden = false; });
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = button.dataset.copy ? document.getElementById(button.dataset.copy) : null;
  const text = button.dataset.copyText
    ?? (source.value !== undefined ? source.value : source.textContent);
  const label = button.textContent;
  navigator.clipboard.writeText(text).then(() => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  }, () => {
    if (source && source.select) source.select();
  });
});

// Times in the reader's own time zone, named ("2026-12-06 16:52 GMT+1"); the title keeps
// the UTC time the server wrote.
const local = new Intl.DateTimeFormat("en-US", {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23", timeZoneName: "short",
});
document.querySelectorAll("time[datetime]").forEach((element) => {
  const at = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(at.getTime())) return;
  const part = Object.fromEntries(local.formatToParts(at).map((p) => [p.type, p.value]));
  element.textContent =
    `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute} ${part.timeZoneName}`;
});

// A field shown only for one choice of a select: data-reveals names it, its data-when
// the value that shows it (the expiry date, for "on a date").
document.querySelectorAll("select[data-reveals]").forEach((select) => {
  const target = document.getElementById(select.dataset.reveals);
  if (!target) return;
  const sync = () => {
    const shown = select.value === target.dataset.when;
    target.hidden = !shown;
    target.querySelectorAll("input").forEach((input) => { input.required = shown; });
  };
  select.addEventListener("change", sync);
  sync();
});

// The create form's choice of authentication: show only the chosen part.
const parts = document.querySelectorAll("input[type=radio][data-shows]");
const showChosen = () => parts.forEach((radio) => {
  const part = document.getElementById(radio.dataset.shows);
  if (part) part.hidden = !radio.checked;
});
parts.forEach((radio) => radio.addEventListener("change", showChosen));
showChosen();

// The GitHub Actions helper: repository and what the job runs for -> issuer and subject,
// in the forms GitHub writes them.
const fill = document.getElementById("gh-fill");
if (fill) {
  fill.hidden = false;
  fill.addEventListener("click", () => {
    const repo = document.getElementById("gh-repo").value.trim();
    const kind = document.getElementById("gh-kind").value;
    const value = document.getElementById("gh-value").value.trim();
    const subject = {
      environment: `repo:${repo}:environment:${value}`,
      branch: `repo:${repo}:ref:refs/heads/${value}`,
      tag: `repo:${repo}:ref:refs/tags/${value}`,
      pull_request: `repo:${repo}:pull_request`,
    }[kind];
    document.getElementById("issuer").value = fill.dataset.issuer;
    document.getElementById("subject").value = subject;
  });
}
