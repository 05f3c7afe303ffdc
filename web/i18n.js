// Every user-visible string of the voter and results pages, in French and English.
//
// Keys are shared by both languages; `{name}` marks a placeholder filled by Scrutin.t(). A page
// never hard-codes a sentence: it names a key here, so switching language re-renders everything.
// The browser tests load this file in node to check that no string of the other language remains
// on screen after a switch, so every string the pages show must live here.
(function(root) {
'use strict';

const STRINGS = {
  fr: {
    'site.name': 'Scrutin référendaire',
    'site.tagline': 'Service officiel de vote en ligne',
    'skip': 'Passer au contenu principal',
    'lang.switch': 'English',
    'lang.switch.label': 'Display this page in English',
    'nav.label': 'Navigation principale',
    'nav.vote': 'Voter',
    'nav.results': 'Résultats',
    'nav.receipt': 'Vérifier mon reçu',
    'footer.privacy':
        'Votre NAS et votre code ne sont jamais conservés, ni par ce service ni dans votre ' +
        'navigateur. Votre choix reste secret.',
    'footer.service': 'Scrutin — vote référendaire en ligne',

    'vote.doctitle': 'Voter — Scrutin référendaire',
    'vote.h1': 'Voter au référendum',
    'vote.intro':
        'Munissez-vous de la lettre reçue par la poste : elle contient votre code de vote. ' +
        'Vous pouvez voter une seule fois sur chaque loi.',
    'vote.loading': 'Chargement des lois soumises au vote…',
    'vote.laws.error':
        'Impossible de charger la liste des lois. Vérifiez votre connexion, puis réessayez.',
    'vote.laws.empty': 'Aucune loi n’est soumise au vote pour le moment.',
    'vote.retry': 'Réessayer',

    'law.legend': '1. Choisissez la loi',
    'law.window': 'Vote ouvert du {opens} au {closes}',
    'law.state.open': 'Ouvert',
    'law.state.closed': 'Fermé',
    'law.state.upcoming': 'Pas encore ouvert',

    'nas.label': '2. Numéro d’assurance sociale (NAS)',
    'nas.hint': '9 chiffres, par exemple 046 454 286',
    'code.label': '3. Code de vote',
    'code.hint': '6 lettres ou chiffres, imprimés sur votre lettre',
    'choice.legend': '4. Votre réponse',
    'choice.oui': 'OUI',
    'choice.non': 'NON',
    'form.continue': 'Continuer',
    'form.errors.title': 'Veuillez corriger ce qui suit :',
    'form.reenter':
        'Par sécurité, votre NAS et votre code ont été effacés de la page : saisissez-les de nouveau.',

    'err.law.missing': 'Choisissez la loi sur laquelle vous votez.',
    'err.law.closed': 'Le vote sur cette loi n’est pas ouvert en ce moment.',
    'err.law.unknown_law':
        'Cette loi n’est pas soumise au vote. Rechargez la page pour voir la liste à jour.',
    'err.nas.missing': 'Entrez votre NAS.',
    'err.nas.format': 'Le NAS doit comporter exactement 9 chiffres.',
    'err.nas.checksum':
        'Ce NAS n’est pas valide : un chiffre est probablement mal saisi. Comparez-le avec ' +
        'votre carte ou votre lettre.',
    'err.code.missing': 'Entrez votre code de vote.',
    'err.code.format': 'Le code de vote comporte exactement 6 lettres ou chiffres.',
    'err.vote.missing': 'Choisissez OUI ou NON.',
    'err.vote.format': 'La réponse doit être OUI ou NON.',
    'err.unknown_field':
        'Le formulaire envoyé contenait un champ inattendu. Rechargez la page et réessayez.',
    'err.field': 'Valeur refusée par le service. Vérifiez-la et réessayez.',

    'review.h': 'Vous votez {choice} sur {law} — confirmez',
    'review.note': 'Une fois confirmé, votre vote ne peut plus être modifié.',
    'review.confirm': 'Confirmer mon vote',
    'review.back': 'Modifier',

    'outcome.label': 'Résultat de votre demande',
    'outcome.sending': 'Envoi de votre vote…',
    'outcome.pending': 'Votre vote est reçu et en cours de vérification…',
    'outcome.reconnecting': 'Connexion perdue, nouvelle tentative en cours…',
    'outcome.slow.h': 'Vérification plus longue que prévu',
    'outcome.slow.body':
        'Votre vote est enregistré et sera vérifié. Conservez le numéro de demande ci-dessous ' +
        'pour consulter son statut plus tard.',
    'outcome.check': 'Vérifier le statut',
    'outcome.request': 'Numéro de demande :',
    'outcome.accepted.h': 'Votre vote est enregistré',
    'outcome.accepted.body': 'Votre vote sur {law} a été accepté. Il sera compté une seule fois.',
    'outcome.receipt.label': 'Votre reçu',
    'outcome.receipt.help':
        'Conservez ce reçu : il vous permet de vérifier que votre bulletin figure dans le ' +
        'décompte publié. Il ne contient ni votre NAS, ni votre code, ni votre choix.',
    'outcome.print': 'Imprimer',
    'outcome.copy': 'Copier le reçu',
    'outcome.copied': 'Reçu copié.',
    'outcome.receipt.check': 'Vérifier que mon bulletin est compté',
    'outcome.duplicate.h': 'Vous avez déjà voté sur cette loi',
    'outcome.duplicate.body':
        'Un vote a déjà été enregistré avec ce NAS et ce code sur {law}. Cette nouvelle ' +
        'tentative n’a pas été comptée : seul le premier vote compte et il ne peut pas être modifié.',
    'outcome.duplicate.count': 'Tentatives de vote avec ce code sur cette loi : {n}',
    'outcome.duplicate.advice':
        'Si vous n’avez pas voté vous-même, signalez-le sans tarder à l’administration électorale.',
    'outcome.invalid.h': 'NAS ou code non reconnu',
    'outcome.invalid.body':
        'Ce NAS et ce code ne correspondent à aucun électeur inscrit pour {law}. Aucun vote n’a ' +
        'été compté. Vérifiez les deux valeurs sur votre lettre, puis réessayez.',
    'outcome.closed.h': 'Le vote sur cette loi est fermé',
    'outcome.closed.body':
        'Votre vote n’a pas été enregistré : le vote sur {law} n’est possible que du {opens} ' +
        'au {closes}.',
    'outcome.closed.body.nolaw':
        'Votre vote n’a pas été enregistré : le vote sur {law} n’est pas ouvert en ce moment.',
    'outcome.busy.h': 'Service très sollicité',
    'outcome.busy.body':
        'Votre vote n’a pas été enregistré, car le service reçoit trop de demandes en ce moment.',
    'outcome.unavailable.h': 'Service momentanément indisponible',
    'outcome.unavailable.body':
        'Votre vote n’a pas été enregistré : le service ne peut pas l’enregistrer de façon sûre ' +
        'pour le moment.',
    'outcome.wait': 'Vous pourrez réessayer dans {s} secondes.',
    'outcome.wait.done': 'Vous pouvez réessayer maintenant.',
    'outcome.network.h': 'Connexion impossible',
    'outcome.network.body':
        'Le service de vote n’a pas pu être joint et votre vote n’a peut-être pas été reçu. ' +
        'Vérifiez votre connexion, puis réessayez : si votre premier envoi avait été reçu, on ' +
        'vous indiquera qu’un vote existe déjà.',
    'outcome.refused.h': 'Demande refusée',
    'outcome.refused.body':
        'Le service a refusé la demande (taille ou format). Votre vote n’a pas été enregistré. ' +
        'Rechargez la page, puis réessayez.',
    'outcome.error.h': 'Une erreur est survenue',
    'outcome.error.body':
        'Le service a répondu de façon inattendue (code {code}) et votre vote n’a pas été ' +
        'confirmé. Réessayez dans quelques minutes : si votre vote avait été enregistré, on vous ' +
        'indiquera qu’un vote existe déjà.',
    'outcome.unknown.h': 'Statut introuvable',
    'outcome.unknown.body':
        'Le statut de cette demande n’est plus disponible. Il est conservé pendant une durée ' +
        'limitée après la fermeture du vote.',
    'outcome.retry': 'Réessayer',
    'outcome.another': 'Voter sur une autre loi',
    'outcome.results': 'Voir les résultats',

    'results.doctitle': 'Résultats — Scrutin référendaire',
    'results.h1': 'Résultats',
    'results.intro':
        'Les résultats se mettent à jour automatiquement pendant le vote. Pour que personne ne ' +
        'puisse relier un bulletin à son électeur, les bulletins sont comptés par groupes ' +
        'mélangés : les résultats provisoires avancent d’un groupe à la fois et ne comprennent ' +
        'pas encore les derniers bulletins reçus. Tous sont comptés quelques secondes après la ' +
        'fermeture du vote, et les résultats deviennent alors définitifs. Les pourcentages ' +
        'portent sur les votes comptés.',
    'results.loading': 'Chargement des résultats…',
    'results.laws.error':
        'Impossible de charger la liste des lois. Nouvel essai automatique dans quelques secondes.',
    'results.oui': 'OUI',
    'results.non': 'NON',
    'results.votes.one': '{n} vote ({pct})',
    'results.votes.other': '{n} votes ({pct})',
    'results.total': 'Votes comptés : {n}',
    'results.uncounted':
        '{n} autres bulletins enregistrés seront comptés avec leur groupe : les bulletins sont ' +
        'comptés par groupes mélangés, pour que personne ne puisse relier un bulletin à son ' +
        'électeur.',
    'results.live': 'Résultats provisoires, mis à jour à {time}',
    'results.final': 'Résultats définitifs',
    'results.embargo':
        'Les résultats de cette loi seront publiés à la fermeture du vote, le {date}.',
    'results.unavailable': 'Résultats momentanément indisponibles. Nouvel essai automatique.',
    'results.unknown': 'Le service de résultats ne connaît pas cette loi.',
    'results.published': 'Les résultats de {law} sont publiés.',
    'results.closing':
        'Le vote est fermé : les derniers bulletins sont en cours de décompte. Les résultats ' +
        'seront définitifs dans quelques secondes.',

    'record.h': 'Procès-verbal signé',
    'record.loading': 'Chargement du procès-verbal…',
    'record.pending':
        'Le procès-verbal signé de cette loi (décompte, rapprochement des comptes, liste des ' +
        'reçus, signature) sera publié à la fermeture du vote, le {date}, au plus tard quelques ' +
        'secondes après.',
    'record.unknown': 'Aucun procès-verbal n’est publié pour cette loi par ce service.',
    'record.unavailable': 'Procès-verbal momentanément indisponible. Nouvel essai automatique.',
    'record.sealed': 'Scellé le {date}.',
    'record.published': 'Le procès-verbal signé de {law} est publié.',
    'record.tally': 'Décompte signé : OUI {oui}, NON {non}, total {total}.',
    'record.recon.caption': 'Rapprochement des comptes',
    'record.recon.note':
        'Chaque compte vient d’un registre distinct du système ; tous doivent être égaux au ' +
        'total du décompte.',
    'record.recon.what': 'Compte',
    'record.recon.n': 'Nombre',
    'record.recon.check': 'Par rapport au décompte',
    'record.recon.accepted': 'Votes acceptés (statuts des demandes)',
    'record.recon.claims': 'Identifiants ayant voté',
    'record.recon.ballots': 'Bulletins',
    'record.recon.receipts': 'Reçus',
    'record.recon.tallied': 'Bulletins décomptés',
    'record.recon.equal': 'Égal',
    'record.recon.differs': 'Écart de {d}',
    'record.recon.ok': 'Tous les comptes sont égaux au décompte.',
    'record.recon.mismatch':
        'Attention : des comptes diffèrent du décompte. Le procès-verbal les publie tels ' +
        'quels ; l’administration électorale doit expliquer chaque écart.',
    'record.receipts.link': 'Liste des reçus comptés ({n})',
    'record.receipts.help':
        'Chaque électeur peut y chercher son reçu, ou le vérifier sur la page {link}.',
    'record.sha256': 'Empreinte SHA-256 de la liste :',
    'record.signature': 'Signature ({alg}) :',
    'record.pubkey': 'Clé publique :',
    'record.verify':
        'Pour vérifier ce procès-verbal de façon indépendante, un vérificateur exécute {cmd} : ' +
        'la commande contrôle la signature avec la clé publique (à comparer avec celle publiée ' +
        'avant l’ouverture du vote), l’empreinte SHA-256 de la liste des reçus et l’égalité de ' +
        'chaque compte avec le décompte.',

    'receipt.doctitle': 'Vérifier mon reçu — Scrutin référendaire',
    'receipt.h1': 'Vérifier mon reçu',
    'receipt.intro':
        'Le reçu affiché après votre vote permet de vérifier que votre bulletin figure dans le ' +
        'décompte. Cette vérification dit seulement si le bulletin est compté, jamais comment ' +
        'vous avez voté.',
    'receipt.label': 'Votre reçu',
    'receipt.hint':
        '16 lettres ou chiffres, par exemple 7K3M-Q9TZ-2D4F-H8WX. Majuscules ou minuscules, ' +
        'avec ou sans tirets.',
    'receipt.submit': 'Vérifier',
    'receipt.err.missing': 'Entrez votre reçu.',
    'receipt.err.format':
        'Un reçu comporte 16 lettres ou chiffres (les tirets sont facultatifs). Comparez avec ' +
        'le reçu affiché après votre vote.',
    'receipt.outcome.label': 'Résultat de la vérification',
    'receipt.checking': 'Vérification du reçu en cours…',
    'receipt.counted.h': 'Votre bulletin est compté',
    'receipt.counted.body': 'Le bulletin du reçu {receipt} figure dans le décompte de {law}.',
    'receipt.counted.secret':
        'Ce reçu ne dit pas comment vous avez voté : personne ne peut le savoir à partir de lui.',
    'receipt.pending.h': 'Ce reçu n’est pas encore dans le décompte',
    'receipt.pending.body':
        'Aucun bulletin compté ne porte le reçu {receipt} pour le moment. C’est normal pendant ' +
        'le vote : pour que personne ne puisse relier un bulletin à son électeur, les bulletins ' +
        'sont comptés par groupes mélangés, et un reçu n’apparaît qu’une fois son groupe ' +
        'compté. Tous les bulletins sont comptés au plus tard quelques secondes après la ' +
        'fermeture du vote.',
    'receipt.pending.when': 'Vérifiez de nouveau après la fermeture du vote, le {date}.',
    'receipt.pending.report':
        'Si votre reçu n’apparaît toujours pas quelques minutes après la fermeture, vérifiez ' +
        'que vous l’avez bien recopié, puis signalez-le à l’administration électorale en lui ' +
        'donnant ce reçu.',
    'receipt.missing.h': 'Ce reçu ne figure pas dans le décompte',
    'receipt.missing.body':
        'Le vote est fermé et tous les bulletins enregistrés sont comptés, mais aucun ne porte ' +
        'le reçu {receipt}.',
    'receipt.missing.report':
        'Vérifiez d’abord que vous avez bien recopié votre reçu. Si c’est bien celui affiché ' +
        'après votre vote, signalez-le sans tarder à l’administration électorale en lui ' +
        'donnant ce reçu.',
    'receipt.busy.body':
        'Le service reçoit trop de demandes en ce moment. Réessayez dans {s} secondes.',
    'receipt.unavailable.body':
        'Le service ne peut pas vérifier les reçus pour le moment. Réessayez dans {s} secondes.',
    'receipt.network.body':
        'Le service n’a pas pu être joint. Vérifiez votre connexion, puis réessayez.',
    'receipt.error.body':
        'Le service a répondu de façon inattendue (code {code}). Réessayez dans quelques minutes.',
  },

  en: {
    'site.name': 'Referendum vote',
    'site.tagline': 'Official online voting service',
    'skip': 'Skip to main content',
    'lang.switch': 'Français',
    'lang.switch.label': 'Afficher cette page en français',
    'nav.label': 'Main navigation',
    'nav.vote': 'Vote',
    'nav.results': 'Results',
    'nav.receipt': 'Check my receipt',
    'footer.privacy':
        'Your SIN and code are never kept, neither by this service nor in your browser. ' +
        'Your choice stays secret.',
    'footer.service': 'Scrutin — online referendum voting',

    'vote.doctitle': 'Vote — Referendum vote',
    'vote.h1': 'Vote in the referendum',
    'vote.intro': 'Have the letter you received by mail at hand: it contains your voting code. ' +
        'You can vote only once on each law.',
    'vote.loading': 'Loading the laws on the ballot…',
    'vote.laws.error':
        'The list of laws could not be loaded. Check your connection, then try again.',
    'vote.laws.empty': 'No law is on the ballot at the moment.',
    'vote.retry': 'Try again',

    'law.legend': '1. Choose the law',
    'law.window': 'Voting open from {opens} to {closes}',
    'law.state.open': 'Open',
    'law.state.closed': 'Closed',
    'law.state.upcoming': 'Not open yet',

    'nas.label': '2. Social Insurance Number (SIN)',
    'nas.hint': '9 digits, for example 046 454 286',
    'code.label': '3. Voting code',
    'code.hint': '6 letters or digits, printed on your letter',
    'choice.legend': '4. Your answer',
    'choice.oui': 'OUI (yes)',
    'choice.non': 'NON (no)',
    'form.continue': 'Continue',
    'form.errors.title': 'Please correct the following:',
    'form.reenter':
        'For your security, your SIN and code were cleared from the page: enter them again.',

    'err.law.missing': 'Choose the law you are voting on.',
    'err.law.closed': 'Voting on this law is not open at the moment.',
    'err.law.unknown_law':
        'This law is not on the ballot. Reload the page to see the current list.',
    'err.nas.missing': 'Enter your SIN.',
    'err.nas.format': 'The SIN must have exactly 9 digits.',
    'err.nas.checksum':
        'This SIN is not valid: a digit is probably mistyped. Compare it with your card or ' +
        'your letter.',
    'err.code.missing': 'Enter your voting code.',
    'err.code.format': 'The voting code has exactly 6 letters or digits.',
    'err.vote.missing': 'Choose OUI or NON.',
    'err.vote.format': 'The answer must be OUI or NON.',
    'err.unknown_field': 'The form sent an unexpected field. Reload the page and try again.',
    'err.field': 'Value refused by the service. Check it and try again.',

    'review.h': 'You are voting {choice} on {law} — confirm',
    'review.note': 'Once confirmed, your vote cannot be changed.',
    'review.confirm': 'Confirm my vote',
    'review.back': 'Change',

    'outcome.label': 'Outcome of your request',
    'outcome.sending': 'Sending your vote…',
    'outcome.pending': 'Your vote has been received and is being checked…',
    'outcome.reconnecting': 'Connection lost, trying again…',
    'outcome.slow.h': 'Checking is taking longer than expected',
    'outcome.slow.body':
        'Your vote is recorded and will be checked. Keep the request number below to look up ' +
        'its status later.',
    'outcome.check': 'Check the status',
    'outcome.request': 'Request number:',
    'outcome.accepted.h': 'Your vote has been recorded',
    'outcome.accepted.body': 'Your vote on {law} was accepted. It will be counted exactly once.',
    'outcome.receipt.label': 'Your receipt',
    'outcome.receipt.help':
        'Keep this receipt: it lets you check that your ballot is in the published count. ' +
        'It contains neither your SIN, nor your code, nor your choice.',
    'outcome.print': 'Print',
    'outcome.copy': 'Copy the receipt',
    'outcome.copied': 'Receipt copied.',
    'outcome.receipt.check': 'Check that my ballot is counted',
    'outcome.duplicate.h': 'You have already voted on this law',
    'outcome.duplicate.body':
        'A vote was already recorded with this SIN and code on {law}. This new attempt was not ' +
        'counted: only the first vote counts and it cannot be changed.',
    'outcome.duplicate.count': 'Voting attempts with this code on this law: {n}',
    'outcome.duplicate.advice':
        'If you did not vote yourself, report it to the election administration without delay.',
    'outcome.invalid.h': 'SIN or code not recognised',
    'outcome.invalid.body':
        'This SIN and code do not match any registered voter for {law}. No vote was counted. ' +
        'Check both values on your letter, then try again.',
    'outcome.closed.h': 'Voting on this law is closed',
    'outcome.closed.body':
        'Your vote was not recorded: voting on {law} is only possible from {opens} to {closes}.',
    'outcome.closed.body.nolaw':
        'Your vote was not recorded: voting on {law} is not open at the moment.',
    'outcome.busy.h': 'Service busy',
    'outcome.busy.body':
        'Your vote was not recorded because the service is receiving too many requests right now.',
    'outcome.unavailable.h': 'Service temporarily unavailable',
    'outcome.unavailable.body':
        'Your vote was not recorded: the service cannot record it safely at the moment.',
    'outcome.wait': 'You can try again in {s} seconds.',
    'outcome.wait.done': 'You can try again now.',
    'outcome.network.h': 'Could not connect',
    'outcome.network.body':
        'The voting service could not be reached and your vote may not have been received. ' +
        'Check your connection, then try again: if your first attempt was received, you will ' +
        'be told that a vote already exists.',
    'outcome.refused.h': 'Request refused',
    'outcome.refused.body':
        'The service refused the request (size or format). Your vote was not recorded. ' +
        'Reload the page, then try again.',
    'outcome.error.h': 'Something went wrong',
    'outcome.error.body':
        'The service answered unexpectedly (code {code}) and your vote was not confirmed. ' +
        'Try again in a few minutes: if your vote had been recorded, you will be told that a ' +
        'vote already exists.',
    'outcome.unknown.h': 'Status not found',
    'outcome.unknown.body':
        'The status of this request is no longer available. It is kept for a limited time ' +
        'after voting closes.',
    'outcome.retry': 'Try again',
    'outcome.another': 'Vote on another law',
    'outcome.results': 'See the results',

    'results.doctitle': 'Results — Referendum vote',
    'results.h1': 'Results',
    'results.intro':
        'Results update automatically while voting is open. So that no one can link a ballot ' +
        'to its voter, ballots are counted in shuffled groups: provisional results move one ' +
        'group at a time and do not yet include the latest ballots received. All of them are ' +
        'counted a few seconds after voting closes, and the results are then final. ' +
        'Percentages are of the votes counted.',
    'results.loading': 'Loading the results…',
    'results.laws.error':
        'The list of laws could not be loaded. Trying again automatically in a few seconds.',
    'results.oui': 'OUI (yes)',
    'results.non': 'NON (no)',
    'results.votes.one': '{n} vote ({pct})',
    'results.votes.other': '{n} votes ({pct})',
    'results.total': 'Votes counted: {n}',
    'results.uncounted':
        '{n} more ballots are recorded and will be counted with their group: ballots are ' +
        'counted in shuffled groups, so that no one can link a ballot to its voter.',
    'results.live': 'Provisional results, updated at {time}',
    'results.final': 'Final results',
    'results.embargo': 'Results for this law will be published when voting closes, on {date}.',
    'results.unavailable': 'Results temporarily unavailable. Trying again automatically.',
    'results.unknown': 'The results service does not know this law.',
    'results.published': 'Results for {law} are published.',
    'results.closing':
        'Voting is closed: the last ballots are being counted. The results will be final in a ' +
        'few seconds.',

    'record.h': 'Signed record',
    'record.loading': 'Loading the record…',
    'record.pending':
        'The signed record of this law (tally, reconciliation of counts, list of receipts, ' +
        'signature) will be published when voting closes, on {date}, at the latest a few ' +
        'seconds after.',
    'record.unknown': 'This service publishes no record for this law.',
    'record.unavailable': 'Record temporarily unavailable. Trying again automatically.',
    'record.sealed': 'Sealed on {date}.',
    'record.published': 'The signed record of {law} is published.',
    'record.tally': 'Signed tally: OUI (yes) {oui}, NON (no) {non}, total {total}.',
    'record.recon.caption': 'Reconciliation of counts',
    'record.recon.note':
        'Each count comes from a separate store of the system; all must equal the total of ' +
        'the tally.',
    'record.recon.what': 'Count',
    'record.recon.n': 'Number',
    'record.recon.check': 'Against the tally',
    'record.recon.accepted': 'Accepted votes (request statuses)',
    'record.recon.claims': 'Credentials that voted',
    'record.recon.ballots': 'Ballots',
    'record.recon.receipts': 'Receipts',
    'record.recon.tallied': 'Ballots tallied',
    'record.recon.equal': 'Equal',
    'record.recon.differs': 'Differs by {d}',
    'record.recon.ok': 'Every count equals the tally.',
    'record.recon.mismatch':
        'Warning: some counts differ from the tally. The record publishes them as they are; ' +
        'the election authority must explain every difference.',
    'record.receipts.link': 'List of counted receipts ({n})',
    'record.receipts.help':
        'Every voter can look for their receipt in it, or check it on the {link} page.',
    'record.sha256': 'SHA-256 of the list:',
    'record.signature': 'Signature ({alg}):',
    'record.pubkey': 'Public key:',
    'record.verify':
        'To check this record independently, an auditor runs {cmd}: it verifies the signature ' +
        'with the public key (compare it with the one published before voting opened), the ' +
        'SHA-256 of the list of receipts, and that every count equals the tally.',

    'receipt.doctitle': 'Check my receipt — Referendum vote',
    'receipt.h1': 'Check my receipt',
    'receipt.intro':
        'The receipt shown after you voted lets you check that your ballot is in the count. ' +
        'This check only says whether the ballot is counted, never how you voted.',
    'receipt.label': 'Your receipt',
    'receipt.hint':
        '16 letters or digits, for example 7K3M-Q9TZ-2D4F-H8WX. Upper or lower case, with or ' +
        'without dashes.',
    'receipt.submit': 'Check',
    'receipt.err.missing': 'Enter your receipt.',
    'receipt.err.format':
        'A receipt has 16 letters or digits (dashes are optional). Compare it with the receipt ' +
        'shown after you voted.',
    'receipt.outcome.label': 'Result of the check',
    'receipt.checking': 'Checking the receipt…',
    'receipt.counted.h': 'Your ballot is counted',
    'receipt.counted.body': 'The ballot with receipt {receipt} is in the count for {law}.',
    'receipt.counted.secret':
        'This receipt does not say how you voted: no one can learn it from the receipt.',
    'receipt.pending.h': 'This receipt is not in the count yet',
    'receipt.pending.body':
        'No counted ballot has receipt {receipt} at the moment. This is normal while voting is ' +
        'open: so that no one can link a ballot to its voter, ballots are counted in shuffled ' +
        'groups, and a receipt shows up only once its group is counted. Every ballot is ' +
        'counted at the latest a few seconds after voting closes.',
    'receipt.pending.when': 'Check again after voting closes, on {date}.',
    'receipt.pending.report':
        'If your receipt still does not appear a few minutes after the close, check that you ' +
        'copied it correctly, then report it to the election authority, giving them this ' +
        'receipt.',
    'receipt.missing.h': 'This receipt is not in the count',
    'receipt.missing.body':
        'Voting is closed and every recorded ballot is counted, but none has receipt {receipt}.',
    'receipt.missing.report':
        'First check that you copied your receipt correctly. If it is the one shown after you ' +
        'voted, report it to the election authority without delay, giving them this receipt.',
    'receipt.busy.body':
        'The service is receiving too many requests right now. Try again in {s} seconds.',
    'receipt.unavailable.body':
        'The service cannot check receipts at the moment. Try again in {s} seconds.',
    'receipt.network.body':
        'The service could not be reached. Check your connection, then try again.',
    'receipt.error.body':
        'The service answered unexpectedly (code {code}). Try again in a few minutes.',
  },
};

if (typeof module === 'object' && module.exports) {
  module.exports = STRINGS;
} else {
  root.ScrutinStrings = STRINGS;
}
})(typeof globalThis !== 'undefined' ? globalThis : this);
